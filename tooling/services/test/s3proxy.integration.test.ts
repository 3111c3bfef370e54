import { randomUUID } from "node:crypto";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";

const server = inject("services").s3proxy!;

describe("s3proxy (filesystem backend)", () => {
  it("stores and returns an object through signed S3 requests, and refuses a wrong secret", async () => {
    const client = (secretAccessKey: string) =>
      new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey },
      });
    const s3 = client(server.secretAccessKey);
    const bucket = `services-smoke-${randomUUID()}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a/b.txt", Body: "hello" }));
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "a/b.txt" }));
    expect(await answer.Body?.transformToString()).toBe("hello");
    const intruder = client("wrong");
    await expect(intruder.send(new GetObjectCommand({ Bucket: bucket, Key: "a/b.txt" }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    s3.destroy();
    intruder.destroy();
  });
});
