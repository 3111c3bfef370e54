import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { workerOptions } from "./worker-command.ts";

// The files under deploy/ that operators copy: the settings they ship must be ones the worker accepts, and the
// Kubernetes objects must keep the promises deploy/README.md makes (probes, grace period, drain time).
const deploy = resolve(import.meta.dirname, "../../../../deploy");
const scratch = mkdtempSync(join(tmpdir(), "pulsar-connect-deploy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: manifests are read loosely
type Manifest = any;

function manifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(deploy, "kubernetes", file), "utf8")).map((doc) => doc.toJS());
}

describe("deploy files", () => {
  it("the systemd and image settings files hold only settings the worker knows", () => {
    for (const file of ["systemd/worker.yaml", "docker/worker.yaml"]) {
      const settings = workerOptions({ config: join(deploy, file) });
      expect(settings.port, file).toBe(6750);
      expect(settings.host, file).toBe("0.0.0.0");
    }
  });

  it("the ConfigMap's worker.yaml with the Secret's auth.yaml appended is one valid settings file", () => {
    const [config] = manifests("configmap.yaml");
    const [secret] = manifests("secret.yaml");
    const merged = join(scratch, "worker.yaml");
    // What the container's command does: cat worker.yaml auth.yaml > /tmp/worker.yaml.
    writeFileSync(merged, `${config.data["worker.yaml"]}${secret.stringData["auth.yaml"]}`);
    const settings = workerOptions({ config: merged });
    expect(settings.pulsarAuthParams).toBe("file:///etc/pulsar-connect/secret/pulsar-token");
    expect(settings.auth?.superUserRoles).toEqual(["admin"]);
    expect(settings.stopTimeoutMs).toBeLessThan(30_000);
  });

  it("the StatefulSet probes /health, gives 30 s to stop, and mounts what its command reads", () => {
    const [statefulSet, budget] = manifests("statefulset.yaml");
    expect(statefulSet.kind).toBe("StatefulSet");
    expect(budget.kind).toBe("PodDisruptionBudget");
    const pod = statefulSet.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    const [worker] = pod.containers;
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      expect(worker[probe].httpGet, probe).toEqual({ path: "/health", port: "admin" });
    }
    const command = worker.command.join(" ");
    const mounts = worker.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath);
    expect(command).toContain("/etc/pulsar-connect/worker.yaml");
    expect(mounts).toContain("/etc/pulsar-connect/worker.yaml");
    expect(command).toContain("/etc/pulsar-connect/secret/auth.yaml");
    expect(mounts).toContain("/etc/pulsar-connect/secret");
    expect(command).toContain("--cluster");
    expect(statefulSet.spec.serviceName).toBe("pulsar-connect-worker-headless");
    const services = manifests("service.yaml");
    expect(services.find((service) => service.metadata.name === statefulSet.spec.serviceName).spec.clusterIP).toBe(
      "None",
    );
    const kustomization = parse(readFileSync(join(deploy, "kubernetes", "kustomization.yaml"), "utf8"));
    expect(kustomization.resources).toEqual(["secret.yaml", "configmap.yaml", "service.yaml", "statefulset.yaml"]);
  });

  it("the image builds on Node 24", () => {
    const dockerfile = readFileSync(join(deploy, "docker", "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM node:24[-.\w]*$/m);
  });
});
