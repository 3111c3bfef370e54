import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentToken, onTokenChange, setToken } from "./api.ts";
import { ClusterPage } from "./pages/cluster.tsx";
import { ConnectorPage } from "./pages/connector.tsx";
import { ConnectorsPage } from "./pages/connectors.tsx";
import { DeadLettersPage } from "./pages/dead-letters.tsx";
import { FormPage } from "./pages/form.tsx";
import { LoginPage } from "./pages/login.tsx";
import { linkClick, useLocation } from "./router.ts";
import "./style.css";

function Routes() {
  const { path } = useLocation();
  const parts = path
    .split("/")
    .filter((part) => part !== "")
    .map((part) => decodeURIComponent(part));
  const [first, kind, tenant, namespace, name, extra] = parts;
  const isKind = kind === "sink" || kind === "source";
  if (first === "new" && isKind && parts.length === 2) return <FormPage kind={kind} />;
  if (first === "connectors" && isKind && tenant && namespace && name) {
    if (extra === "edit") return <FormPage kind={kind} existing={{ tenant, namespace, name }} />;
    if (extra === "dead-letters" && kind === "sink")
      return <DeadLettersPage tenant={tenant} namespace={namespace} name={name} />;
    if (extra === undefined) return <ConnectorPage kind={kind} tenant={tenant} namespace={namespace} name={name} />;
  }
  if (parts.length === 0) return <ConnectorsPage />;
  if (first === "cluster" && parts.length === 1) return <ClusterPage />;
  return (
    <main id="main" tabIndex={-1}>
      <h1>Not found</h1>
      <p>
        Nothing lives at this address.{" "}
        <a href="/" onClick={linkClick}>
          Back to the connectors
        </a>
        .
      </p>
    </main>
  );
}

function App() {
  const [token, setLocalToken] = useState(currentToken());
  useEffect(() => onTokenChange(() => setLocalToken(currentToken())), []);
  if (token === null) return <LoginPage />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/" onClick={linkClick}>
          pulsar-connect
        </a>
        <nav aria-label="Main">
          <a href="/" onClick={linkClick}>
            Connectors
          </a>
          <a href="/new/sink" onClick={linkClick}>
            New sink
          </a>
          <a href="/new/source" onClick={linkClick}>
            New source
          </a>
          <a href="/cluster" onClick={linkClick}>
            Cluster
          </a>
        </nav>
        <button type="button" class="secondary" onClick={() => setToken(null)}>
          Log out
        </button>
      </header>
      <Routes />
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
// Rendered with its handlers attached: the page answers input from here on (read by tooling/bench).
performance.mark("console-interactive");
