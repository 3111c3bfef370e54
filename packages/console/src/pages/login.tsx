import { useState } from "preact/hooks";
import { ApiError, call, setToken } from "../api.ts";

/** Asks for a token and checks it against the worker before keeping it (in this tab's session storage only). */
export function LoginPage() {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await fetch("/console/api/v1/whoami", {
        headers: value.trim() === "" ? {} : { authorization: `Bearer ${value.trim()}` },
      });
      if (!answer.ok) {
        const body = (await answer.json().catch(() => ({}))) as { reason?: string };
        throw new ApiError(answer.status, body.reason ?? answer.statusText);
      }
      setToken(value.trim());
      await call("GET", "/console/api/v1/whoami");
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <form onSubmit={submit} aria-describedby="login-help">
        <h1>pulsar-connect</h1>
        <p id="login-help">
          Log in with a token of this worker's admin API. It is kept in this tab only and sent as a bearer token. On a
          worker without authentication, leave it empty.
        </p>
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={value}
          onInput={(event) => setValue((event.target as HTMLInputElement).value)}
          aria-invalid={error !== null}
          aria-describedby={error ? "login-error" : undefined}
        />
        {error ? (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
