// Each messaging server started from its Debian package's binary in a folder of its own (as on a machine where none
// runs), killed, and started again on its data; the probes speak each protocol.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { privateServer } from "../src/private-server.ts";

const redis = privateServer("redis");
const nats = privateServer("nats");
const mosquitto = privateServer("mosquitto");
const rabbitmq = privateServer("rabbitmq");

/** Sends `request` and resolves with what came back within a second. */
function exchange(port: number, request: Buffer | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    socket.once("connect", () => request && socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.once("error", () => resolve(received));
    setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 1_000);
  });
}

describe("messaging servers from their Debian packages", () => {
  it("Redis keeps what it stored across a kill (append-only file)", async () => {
    const { port } = redis.endpoint();
    expect((await exchange(port, Buffer.from("SET k v\r\n"))).toString()).toBe("+OK\r\n");
    await redis.kill();
    expect((await exchange(port, Buffer.from("PING\r\n"))).length).toBe(0);
    await redis.start();
    expect((await exchange(port, Buffer.from("GET k\r\n"))).toString()).toBe("$1\r\nv\r\n");
  });

  it("NATS answers with JetStream on, again after a restart", async () => {
    const { port } = nats.endpoint();
    expect((await exchange(port, undefined)).toString()).toMatch(/^INFO .*"jetstream":true/);
    await nats.stop();
    await nats.start();
    expect((await exchange(port, undefined)).toString()).toMatch(/^INFO .*"jetstream":true/);
  });

  it("Mosquitto accepts an anonymous MQTT 3.1.1 CONNECT", async () => {
    const { port } = mosquitto.endpoint();
    const connectPacket = Buffer.from([
      0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a, 0x00, 0x04, 0x74, 0x65, 0x73, 0x74,
    ]);
    const reply = await exchange(port, connectPacket);
    expect([...reply.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00]);
  });

  it("RabbitMQ answers the AMQP 0-9-1 header with connection.start", { timeout: 120_000 }, async () => {
    const { port } = rabbitmq.endpoint();
    const reply = await exchange(port, Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
    // Method frame (type 1) on channel 0, class 10 (connection), method 10 (start).
    expect([reply[0], reply.readUInt16BE(1), reply.readUInt16BE(7), reply.readUInt16BE(9)]).toEqual([1, 0, 10, 10]);
  });
});
