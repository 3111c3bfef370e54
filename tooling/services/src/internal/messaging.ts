import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST } from "./config.ts";
import type { DaemonServer } from "./daemon.ts";
import { tcpExchange } from "./probe.ts";

const isRoot = () => process.getuid?.() === 0;

/** Redis with append-only persistence in its own folder; ready when PING answers PONG. */
export const redisServer: DaemonServer<"redis"> = {
  name: "redis",
  aptPackage: "redis-server",
  binary: "/usr/bin/redis-server",
  readyTimeoutMs: 30_000,
  endpoint: ({ port }) => ({ host: HOST, port, url: `redis://${HOST}:${port}` }),
  launch: (run, { port }) => ({
    command: "/usr/bin/redis-server",
    args: [
      "--port",
      String(port),
      "--bind",
      HOST,
      "--dir",
      run.dataDir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
    ],
  }),
  // redis-server replaces its command line with its address.
  marker: (_run, { port }) => `redis-server ${HOST}:${port}`,
  healthy: ({ port }) => tcpExchange(HOST, port, Buffer.from("PING\r\n"), (data) => data.includes("+PONG")),
};

/** NATS with JetStream storing under its own folder; ready when the server's INFO says JetStream is on. */
export const natsServer: DaemonServer<"nats"> = {
  name: "nats",
  aptPackage: "nats-server",
  binary: "/usr/sbin/nats-server",
  readyTimeoutMs: 30_000,
  endpoint: ({ port }) => ({ host: HOST, port, servers: `nats://${HOST}:${port}` }),
  launch: (run, { port }) => ({
    command: "/usr/sbin/nats-server",
    args: ["-a", HOST, "-p", String(port), "-js", "-sd", join(run.dataDir, "jetstream")],
  }),
  healthy: ({ port }) =>
    tcpExchange(HOST, port, undefined, (data) => {
      const line = data.toString("utf8");
      return line.includes("\r\n") && /^INFO .*"jetstream":true/.test(line);
    }),
};

/** CONNECT of MQTT 3.1.1, clean session, client id "pc-probe". */
const MQTT_PROBE = Buffer.from([
  0x10,
  0x14,
  0x00,
  0x04,
  0x4d,
  0x51,
  0x54,
  0x54,
  0x04,
  0x02,
  0x00,
  0x0a,
  0x00,
  0x08,
  ...Buffer.from("pc-probe"),
]);

/** Mosquitto with persistence in its own folder, anonymous clients on loopback; ready when CONNECT is accepted. */
export const mosquittoServer: DaemonServer<"mosquitto"> = {
  name: "mosquitto",
  aptPackage: "mosquitto",
  binary: "/usr/sbin/mosquitto",
  readyTimeoutMs: 30_000,
  endpoint: ({ port }) => ({ host: HOST, port, url: `mqtt://${HOST}:${port}` }),
  launch: (run, { port }) => {
    const config = join(run.dir, "mosquitto.conf");
    writeFileSync(
      config,
      [
        `listener ${port} ${HOST}`,
        "allow_anonymous true",
        "persistence true",
        `persistence_location ${run.dataDir}/`,
        "autosave_interval 1",
        // As root mosquitto would switch to its own user, which cannot write this folder.
        ...(isRoot() ? ["user root"] : []),
        "",
      ].join("\n"),
    );
    return { command: "/usr/sbin/mosquitto", args: ["-c", config] };
  },
  // CONNACK with return code 0.
  healthy: ({ port }) =>
    tcpExchange(HOST, port, MQTT_PROBE, (data) => data.length >= 4 && data[0] === 0x20 && data[3] === 0),
};

/** RabbitMQ as a node of its own (name, ports, data, Erlang cookie under its folder); ready when AMQP answers. */
export const rabbitmqServer: DaemonServer<"rabbitmq"> = {
  name: "rabbitmq",
  aptPackage: "rabbitmq-server",
  binary: "/usr/lib/rabbitmq/bin/rabbitmq-server",
  readyTimeoutMs: 90_000,
  endpoint: ({ port }) => ({
    host: HOST,
    port,
    username: "guest",
    password: "guest",
    url: `amqp://guest:guest@${HOST}:${port}`,
  }),
  launch: (run, { port, dist }) => {
    const config = join(run.dir, "rabbitmq.conf");
    writeFileSync(config, `listeners.tcp.local = ${HOST}:${port}\nloopback_users.guest = true\n`);
    const plugins = join(run.dir, "enabled_plugins");
    writeFileSync(plugins, "[].\n");
    const pidFile = join(run.dir, "rabbitmq.pid");
    return {
      // The Debian wrapper in /usr/sbin switches to the rabbitmq user and its fixed folders; this script does not.
      command: "/usr/lib/rabbitmq/bin/rabbitmq-server",
      args: [],
      pidFile,
      env: {
        HOME: run.dir,
        RABBITMQ_NODENAME: `pc-${port}@localhost`,
        RABBITMQ_NODE_IP_ADDRESS: HOST,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(dist),
        RABBITMQ_MNESIA_BASE: join(run.dataDir, "mnesia"),
        RABBITMQ_LOG_BASE: join(run.dir, "log"),
        RABBITMQ_CONFIG_FILE: config,
        RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
        RABBITMQ_PID_FILE: pidFile,
        ERL_EPMD_ADDRESS: HOST,
      },
    };
  },
  // Protocol header AMQP 0-9-1; the broker answers with a method frame (type 1), connection.start.
  healthy: ({ port }) =>
    tcpExchange(HOST, port, Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]), (data) => data[0] === 1),
};
