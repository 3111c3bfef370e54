import { useEffect, useRef, useState } from "preact/hooks";
import { call, type DeadLetter } from "../api.ts";
import { count, time } from "../format.ts";
import { linkClick } from "../router.ts";
import { detailPath } from "./connectors.tsx";

interface TopicView {
  topic: string;
  count: number;
  capped: boolean;
  messages: DeadLetter[];
}

export function DeadLettersPage({ tenant, namespace, name }: { tenant: string; namespace: string; name: string }) {
  const base = `/console/api/v1/deadletters/${[tenant, namespace, name].map(encodeURIComponent).join("/")}`;
  const [topics, setTopics] = useState<TopicView[] | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  const load = async () => {
    setBusy(true);
    try {
      const answer = await call<{ topics: TopicView[] }>("GET", `${base}?limit=50`);
      setTopics(answer.topics);
    } catch (error) {
      setMessage({ text: (error as Error).message, error: true });
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    heading.current?.focus();
    void load();
  }, [base]);

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const replay = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const answer = await call<{ replayed: Array<{ id: string; topic: string }>; missing: string[] }>(
        "POST",
        `${base}/replay`,
        { messageIds: [...selected] },
      );
      setMessage({
        text: `Replayed ${answer.replayed.length} record(s) to their input topic${answer.missing.length > 0 ? `; ${answer.missing.length} not found or without a known input` : ""}.`,
        error: answer.missing.length > 0,
      });
      setSelected(new Set());
    } catch (error) {
      setMessage({ text: (error as Error).message, error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" tabIndex={-1}>
      <p class="crumbs">
        <a href="/" onClick={linkClick}>
          Connectors
        </a>{" "}
        /{" "}
        <a href={detailPath({ kind: "sink", tenant, namespace, name })} onClick={linkClick}>
          {tenant}/{namespace}/{name}
        </a>
      </p>
      <div class="heading">
        <h1 ref={heading} tabIndex={-1}>
          Dead letters of {name}
        </h1>
        <div class="actions">
          <button type="button" class="secondary" disabled={busy} onClick={() => void load()}>
            Refresh
          </button>
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void replay()}>
            Replay selected ({selected.size})
          </button>
        </div>
      </div>
      <p class={message?.error ? "error" : "notice"} role={message?.error ? "alert" : "status"}>
        {message?.text ?? "\u00a0"}
      </p>
      {topics === null ? <p class="muted">Reading the dead-letter topics…</p> : null}
      {topics !== null && topics.length === 0 ? (
        <p class="muted">
          This sink has no dead-letter topic: set maxMessageRetries above 0 to send failing records to one.
        </p>
      ) : null}
      {(topics ?? []).map((topic) => (
        <section key={topic.topic} aria-label={`Dead-letter topic ${topic.topic}`}>
          <h2>
            <code>{topic.topic}</code>{" "}
            <span class="badge num" data-testid="dlq-count">
              {count(topic.count)}
              {topic.capped ? "+" : ""} record(s)
            </span>
          </h2>
          {topic.messages.length === 0 ? (
            <p class="muted">Empty.</p>
          ) : (
            <table class="dead-letters">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="sr-only">Select</span>
                  </th>
                  <th scope="col">Published</th>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                  <th scope="col">Failure reason</th>
                </tr>
              </thead>
              <tbody>
                {topic.messages.map((m) => (
                  <tr key={m.id} data-message={m.id}>
                    <td>
                      <input
                        type="checkbox"
                        id={`pick-${m.id}`}
                        checked={selected.has(m.id)}
                        onChange={() => toggle(m.id)}
                        aria-label={`Select the record published ${time(m.publishTime)}`}
                      />
                    </td>
                    <td class="num">{time(m.publishTime)}</td>
                    <td>{m.key ?? <span class="muted">none</span>}</td>
                    <td class="value">
                      {m.size === 0 ? (
                        <span class="muted">empty</span>
                      ) : (
                        <code>
                          {m.valueEncoding === "base64" ? "base64: " : ""}
                          {m.value}
                        </code>
                      )}
                    </td>
                    <td class="error-cell reason">{m.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </main>
  );
}
