import { gunzipSync } from "node:zlib";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { inject } from "vitest";

/** The S3Proxy that tooling/services started for this project (test/services.json). */
export function s3proxy(): { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string } {
  const endpoint = inject("services").s3proxy;
  if (!endpoint) throw new Error("test/services.json must list s3proxy");
  return endpoint;
}

export function s3Client(): S3Client {
  const server = s3proxy();
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Creates a fresh bucket and returns the sink configs that write to it. */
export async function freshBucket(
  client: S3Client,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const bucket = uniqueName("sink");
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const server = s3proxy();
  return {
    provider: "aws-s3",
    bucket,
    endpoint: server.endpoint,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    ...extra,
  };
}

export async function listKeys(client: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/**
 * Every JSON line of every object in the bucket (gzip objects unpacked). A listing is no snapshot: while a sink
 * writes, S3Proxy may list a key whose file it is still moving into place, so a failed read of the bucket is tried
 * again (the last failure is thrown).
 */
export async function jsonLines(client: S3Client, bucket: string): Promise<unknown[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readJsonLines(client, bucket);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

async function readJsonLines(client: S3Client, bucket: string): Promise<unknown[]> {
  const values: unknown[] = [];
  for (const key of await listKeys(client, bucket)) {
    let body = await getObject(client, bucket, key);
    if (key.endsWith(".gz")) body = gunzipSync(body);
    for (const line of body.toString("utf8").split("\n")) if (line !== "") values.push(JSON.parse(line));
  }
  return values;
}
