import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ConfigField, call, connectorPath, type FieldIssue, type Kind, plural } from "../api.ts";
import { linkClick, navigate } from "../router.ts";
import { refreshNow } from "../store.ts";
import { detailPath } from "./connectors.tsx";

interface Props {
  kind: Kind;
  existing?: { tenant: string; namespace: string; name: string };
}

interface Builtin {
  name: string;
  description: string;
}

/** The connector-level fields the form offers besides the connector's own config. */
interface Common {
  tenant: string;
  namespace: string;
  name: string;
  type: string;
  topics: string;
  processingGuarantees: string;
  parallelism: string;
  maxMessageRetries: string;
  deadLetterTopic: string;
}

const idOf = (path: string) => `f-${path.replace(/[^A-Za-z0-9_-]/g, "-")}`;

function valueText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A field's text as the JSON value the worker expects for its type; undefined leaves the field to its default. */
function parseField(field: ConfigField, text: string): { value?: unknown; problem?: string } {
  if (text.trim() === "") return {};
  const type = field.typeName;
  if (type.includes("integer") || type.includes("number")) {
    const value = Number(text);
    if (!Number.isFinite(value)) return { problem: "must be a number" };
    return { value };
  }
  if (type.includes("boolean")) return { value: text === "true" };
  if (type.includes("array") || type.includes("object")) {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { problem: `must be JSON (${type.includes("array") ? "a list" : "an object"})` };
    }
  }
  return { value: text };
}

function FieldError({ path, issues }: { path: string; issues: FieldIssue[] }) {
  const own = issues.filter((issue) => issue.path === path || issue.path.startsWith(`${path}.`));
  if (own.length === 0) return null;
  return (
    <p class="field-error" id={`${idOf(path)}-error`}>
      {own.map((issue) => issue.message).join("; ")}
    </p>
  );
}

export function FormPage({ kind, existing }: Props) {
  const editing = existing !== undefined;
  const [builtins, setBuiltins] = useState<Builtin[]>([]);
  const [fields, setFields] = useState<ConfigField[]>([]);
  const [common, setCommon] = useState<Common>({
    tenant: existing?.tenant ?? "public",
    namespace: existing?.namespace ?? "default",
    name: existing?.name ?? "",
    type: "",
    topics: "",
    processingGuarantees: "ATLEAST_ONCE",
    parallelism: "1",
    maxMessageRetries: "",
    deadLetterTopic: "",
  });
  const [values, setValues] = useState<Record<string, string>>({});
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
    call<Builtin[]>("GET", `/admin/v3/${plural(kind)}/builtin${plural(kind)}`)
      .then(setBuiltins)
      .catch((error: Error) => setMessage({ text: error.message, error: true }));
    if (existing) {
      call<Record<string, unknown>>("GET", connectorPath(kind, existing.tenant, existing.namespace, existing.name))
        .then((config) => {
          const archive = String(config.archive ?? "");
          const type = String(
            config[`${kind}Type`] ?? (archive.startsWith("builtin://") ? archive.slice(10) : archive),
          );
          setCommon((c) => ({
            ...c,
            type,
            topics:
              kind === "sink"
                ? ((config.inputs as string[] | undefined) ?? []).join(", ")
                : String(config.topicName ?? ""),
            processingGuarantees: String(config.processingGuarantees ?? "ATLEAST_ONCE"),
            parallelism: String(config.parallelism ?? 1),
            maxMessageRetries: valueText(config.maxMessageRetries),
            deadLetterTopic: valueText(config.deadLetterTopic),
          }));
          const configs = (config.configs ?? {}) as Record<string, unknown>;
          setValues(Object.fromEntries(Object.entries(configs).map(([k, v]) => [k, valueText(v)])));
        })
        .catch((error: Error) => setMessage({ text: error.message, error: true }));
    }
  }, [kind, existing?.tenant, existing?.namespace, existing?.name]);

  useEffect(() => {
    if (!common.type) {
      setFields([]);
      return;
    }
    call<ConfigField[]>(
      "GET",
      `/admin/v3/${plural(kind)}/builtin${plural(kind)}/${encodeURIComponent(common.type)}/configdefinition`,
    )
      .then(setFields)
      .catch(() => setFields([]));
  }, [kind, common.type]);

  const set = (key: keyof Common) => (event: Event) =>
    setCommon({ ...common, [key]: (event.target as HTMLInputElement | HTMLSelectElement).value });

  /** The config to send, or the field problems found before asking the worker. */
  const build = (): { config?: Record<string, unknown>; local: FieldIssue[] } => {
    const local: FieldIssue[] = [];
    const configs: Record<string, unknown> = {};
    for (const field of fields) {
      const parsed = parseField(field, values[field.fieldName] ?? "");
      if (parsed.problem) local.push({ path: `configs.${field.fieldName}`, message: parsed.problem });
      else if (parsed.value !== undefined) configs[field.fieldName] = parsed.value;
    }
    const config: Record<string, unknown> = {
      tenant: common.tenant,
      namespace: common.namespace,
      name: common.name,
      [`${kind}Type`]: common.type,
      processingGuarantees: common.processingGuarantees,
      parallelism: Number(common.parallelism),
      configs,
    };
    const topics = common.topics
      .split(",")
      .map((topic) => topic.trim())
      .filter((topic) => topic !== "");
    if (kind === "sink") {
      config.inputs = topics;
      if (common.maxMessageRetries.trim() !== "") config.maxMessageRetries = Number(common.maxMessageRetries);
      if (common.deadLetterTopic.trim() !== "") config.deadLetterTopic = common.deadLetterTopic.trim();
    } else if (topics[0] !== undefined) {
      config.topicName = topics[0];
    }
    if (!common.name.trim()) local.push({ path: "name", message: "is required" });
    if (!common.type) local.push({ path: `${kind}Type`, message: "choose a connector type" });
    return local.length > 0 ? { local } : { config, local };
  };

  const submit = async (mode: "validate" | "save") => {
    setMessage(null);
    const { config, local } = build();
    setIssues(local);
    if (!config) {
      setMessage({ text: "Fix the marked fields.", error: true });
      focusFirstError(local);
      return;
    }
    const base = connectorPath(kind, common.tenant, common.namespace, common.name);
    setBusy(true);
    try {
      if (mode === "validate") {
        const answer = await call<{ warnings?: Array<{ path?: string; message: string }> }>(
          "POST",
          `${base}/validate`,
          config,
        );
        const warnings = answer?.warnings ?? [];
        setMessage({
          text:
            warnings.length > 0
              ? `Valid, with warnings: ${warnings.map((w) => `${w.path ?? ""} ${w.message}`).join("; ")}`
              : "Valid: the worker accepts this config.",
          error: false,
        });
      } else {
        await call(editing ? "PUT" : "POST", base, config);
        refreshNow();
        navigate(detailPath({ kind, tenant: common.tenant, namespace: common.namespace, name: common.name }));
      }
    } catch (error) {
      const found = error instanceof ApiError ? error.issues : [];
      setIssues(found);
      setMessage({ text: (error as Error).message, error: true });
      focusFirstError(found);
    } finally {
      setBusy(false);
    }
  };

  const described = (path: string, help?: boolean) =>
    [
      help ? `${idOf(path)}-help` : "",
      issues.some((i) => i.path === path || i.path.startsWith(`${path}.`)) ? `${idOf(path)}-error` : "",
    ]
      .filter(Boolean)
      .join(" ") || undefined;
  const invalid = (path: string) => issues.some((i) => i.path === path || i.path.startsWith(`${path}.`));
  const topicsPath = kind === "sink" ? "inputs" : "topicName";
  const unplaced = issues.filter(
    (issue) =>
      ![
        "name",
        "tenant",
        "namespace",
        `${kind}Type`,
        topicsPath,
        "processingGuarantees",
        "parallelism",
        "maxMessageRetries",
        "deadLetterTopic",
      ].some((p) => issue.path === p || issue.path.startsWith(`${p}.`)) &&
      !fields.some((f) => issue.path === `configs.${f.fieldName}` || issue.path.startsWith(`configs.${f.fieldName}.`)),
  );

  return (
    <main id="main" tabIndex={-1}>
      <p class="crumbs">
        <a href="/" onClick={linkClick}>
          Connectors
        </a>
      </p>
      <h1 ref={heading} tabIndex={-1}>
        {editing ? `Edit ${kind} ${existing.name}` : `New ${kind}`}
      </h1>
      <form
        class="config-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void submit("save");
        }}
      >
        <fieldset>
          <legend>Connector</legend>
          <div class="grid">
            {(["tenant", "namespace", "name"] as const).map((key) => (
              <div class="field" key={key}>
                <label for={idOf(key)}>{key[0]?.toUpperCase() + key.slice(1)}</label>
                <input
                  id={idOf(key)}
                  value={common[key]}
                  readOnly={editing}
                  onInput={set(key)}
                  aria-invalid={invalid(key)}
                  aria-describedby={described(key)}
                  required
                />
                <FieldError path={key} issues={issues} />
              </div>
            ))}
            <div class="field">
              <label for={idOf(`${kind}Type`)}>Connector type</label>
              <select
                id={idOf(`${kind}Type`)}
                value={common.type}
                onChange={set("type")}
                disabled={editing}
                aria-invalid={invalid(`${kind}Type`)}
                aria-describedby={described(`${kind}Type`)}
              >
                <option value="">Choose…</option>
                {builtins.map((b) => (
                  <option key={b.name} value={b.name}>
                    {b.name}
                  </option>
                ))}
              </select>
              <FieldError path={`${kind}Type`} issues={issues} />
            </div>
            <div class="field">
              <label for={idOf(topicsPath)}>
                {kind === "sink" ? "Input topics (comma-separated)" : "Output topic"}
              </label>
              <input
                id={idOf(topicsPath)}
                value={common.topics}
                onInput={set("topics")}
                aria-invalid={invalid(topicsPath)}
                aria-describedby={described(topicsPath)}
              />
              <FieldError path={topicsPath} issues={issues} />
            </div>
            <div class="field">
              <label for={idOf("processingGuarantees")}>Processing guarantee</label>
              <select
                id={idOf("processingGuarantees")}
                value={common.processingGuarantees}
                onChange={set("processingGuarantees")}
              >
                <option>ATLEAST_ONCE</option>
                <option>ATMOST_ONCE</option>
                <option>EFFECTIVELY_ONCE</option>
              </select>
              <FieldError path="processingGuarantees" issues={issues} />
            </div>
            <div class="field">
              <label for={idOf("parallelism")}>Parallelism</label>
              <input
                id={idOf("parallelism")}
                type="number"
                min={1}
                value={common.parallelism}
                onInput={set("parallelism")}
                aria-invalid={invalid("parallelism")}
                aria-describedby={described("parallelism")}
              />
              <FieldError path="parallelism" issues={issues} />
            </div>
            {kind === "sink" ? (
              <>
                <div class="field">
                  <label for={idOf("maxMessageRetries")}>Max message retries</label>
                  <input
                    id={idOf("maxMessageRetries")}
                    type="number"
                    min={0}
                    value={common.maxMessageRetries}
                    onInput={set("maxMessageRetries")}
                    aria-invalid={invalid("maxMessageRetries")}
                    aria-describedby={`${idOf("maxMessageRetries")}-help ${described("maxMessageRetries") ?? ""}`}
                  />
                  <p class="help" id={`${idOf("maxMessageRetries")}-help`}>
                    Above 0, records that keep failing go to a dead-letter topic.
                  </p>
                  <FieldError path="maxMessageRetries" issues={issues} />
                </div>
                <div class="field">
                  <label for={idOf("deadLetterTopic")}>Dead-letter topic</label>
                  <input
                    id={idOf("deadLetterTopic")}
                    value={common.deadLetterTopic}
                    onInput={set("deadLetterTopic")}
                    placeholder="<input>-<subscription>-DLQ"
                    aria-invalid={invalid("deadLetterTopic")}
                    aria-describedby={described("deadLetterTopic")}
                  />
                  <FieldError path="deadLetterTopic" issues={issues} />
                </div>
              </>
            ) : null}
          </div>
        </fieldset>
        <fieldset>
          <legend>{common.type ? `${common.type} config` : "Connector config"}</legend>
          {fields.length === 0 ? (
            <p class="muted">{common.type ? "Loading the fields…" : "Choose a connector type first."}</p>
          ) : null}
          <div class="grid">
            {fields.map((field) => {
              const path = `configs.${field.fieldName}`;
              const id = idOf(path);
              const sensitive = field.attributes.sensitive === "true";
              const required = field.attributes.required === "true";
              const type = field.typeName;
              const value = values[field.fieldName] ?? "";
              const onInput = (event: Event) =>
                setValues({ ...values, [field.fieldName]: (event.target as HTMLInputElement).value });
              const common = {
                id,
                name: field.fieldName,
                "aria-invalid": invalid(path),
                "aria-describedby": described(path, true),
                "aria-required": required,
              };
              let input: JSX.Element;
              if (type.includes("boolean")) {
                input = (
                  <select {...common} value={value} onChange={onInput}>
                    <option value="">default ({field.attributes.defaultValue || "unset"})</option>
                    <option value="true">true</option>
                    <option value="false">false</option>
                  </select>
                );
              } else if (type.includes("array") || type.includes("object")) {
                input = (
                  <textarea
                    {...common}
                    rows={3}
                    value={value}
                    onInput={onInput}
                    placeholder={field.attributes.defaultValue}
                  />
                );
              } else {
                input = (
                  <input
                    {...common}
                    type={
                      sensitive ? "password" : type.includes("integer") || type.includes("number") ? "number" : "text"
                    }
                    autoComplete={sensitive ? "new-password" : "off"}
                    value={value}
                    onInput={onInput}
                    placeholder={field.attributes.defaultValue}
                  />
                );
              }
              return (
                <div class="field" key={field.fieldName}>
                  <label for={id}>
                    {field.fieldName}
                    {required ? <span class="required"> (required)</span> : null}
                    <span class="type">
                      {" "}
                      {type}
                      {sensitive ? ", secret" : ""}
                    </span>
                  </label>
                  {input}
                  <p class="help" id={`${id}-help`}>
                    {field.attributes.help}
                    {field.attributes.defaultValue !== "" ? ` Default: ${field.attributes.defaultValue}.` : ""}
                  </p>
                  <FieldError path={path} issues={issues} />
                </div>
              );
            })}
          </div>
        </fieldset>
        {unplaced.length > 0 ? (
          <ul class="error">
            {unplaced.map((issue) => (
              <li key={issue.path + issue.message}>
                {issue.path}: {issue.message}
              </li>
            ))}
          </ul>
        ) : null}
        <p class={message?.error ? "error" : "notice"} role={message?.error ? "alert" : "status"}>
          {message?.text ?? "\u00a0"}
        </p>
        <div class="actions">
          <button type="button" class="secondary" disabled={busy} onClick={() => void submit("validate")}>
            Validate
          </button>
          <button type="submit" disabled={busy}>
            {editing ? "Save changes" : `Create ${kind}`}
          </button>
        </div>
      </form>
    </main>
  );
}

function focusFirstError(issues: FieldIssue[]): void {
  requestAnimationFrame(() => {
    for (const issue of issues) {
      const parts = issue.path.split(".");
      for (let size = parts.length; size > 0; size -= 1) {
        const element = document.getElementById(idOf(parts.slice(0, size).join(".")));
        if (element) {
          element.focus();
          return;
        }
      }
    }
  });
}
