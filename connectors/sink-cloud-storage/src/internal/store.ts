import {
  HeadBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type ObjectCannedACL,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { ConnectorError } from "@pulsar-connect/core";

export interface StoreSettings {
  bucket: string;
  region?: string | undefined;
  endpoint?: string | undefined;
  usePathStyleUrl: boolean;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  awsCannedAcl?: ObjectCannedACL | undefined;
}

/** Turns an S3 failure into the connector error family: auth, missing bucket, or retryable I/O. */
export function storeError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    const detail = `${what}: ${error.name}${error.message && error.message !== error.name ? ` (${error.message})` : ""}`;
    if (status === 401 || status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch/.test(error.name)) {
      return new ConnectorError("AUTH_FAILED", detail, { cause: error, retryable: false });
    }
    if (status === 404 || error.name === "NoSuchBucket" || error.name === "NotFound") {
      return new ConnectorError("NOT_FOUND", detail, { cause: error, retryable: false });
    }
    return new ConnectorError("WRITE_FAILED", detail, { cause: error, retryable: true });
  }
  return new ConnectorError("CONNECTION_FAILED", `${what}: ${(error as Error).message ?? String(error)}`, {
    cause: error,
    retryable: true,
  });
}

/** The bucket, through the AWS SDK v3 S3 client (any S3-compatible endpoint). */
export class ObjectStore {
  private readonly client: S3Client;
  readonly bucket: string;
  private readonly acl: ObjectCannedACL | undefined;

  constructor(settings: StoreSettings) {
    const config: S3ClientConfig = {
      // S3-compatible servers take any region in the signature; AWS needs the bucket's.
      region: settings.region ?? "us-east-1",
      forcePathStyle: settings.usePathStyleUrl,
      // The runtime retries failed writes with its own backoff and reports them in the status.
      maxAttempts: 2,
    };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    if (settings.accessKeyId && settings.secretAccessKey) {
      config.credentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey };
    }
    this.client = new S3Client(config);
    this.bucket = settings.bucket;
    this.acl = settings.awsCannedAcl;
  }

  /** Checks that the bucket exists and the credentials may use it. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const failure = storeError(error, `bucket ${this.bucket}`);
      if (failure.code === "NOT_FOUND") {
        throw new ConnectorError("NOT_FOUND", `bucket ${this.bucket} does not exist (the sink does not create it)`, {
          cause: error,
          retryable: true,
        });
      }
      throw failure;
    }
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentLength: body.length,
          ...(this.acl ? { ACL: this.acl } : {}),
        }),
      );
    } catch (error) {
      const failure = storeError(error, `upload of ${key}`);
      // A bucket deleted under a running sink may come back; failing the records would dead-letter them all.
      if (failure.code === "NOT_FOUND") {
        throw new ConnectorError("NOT_FOUND", `bucket ${this.bucket} does not exist (upload of ${key})`, {
          cause: error,
          retryable: true,
        });
      }
      throw failure;
    }
  }

  /** Every key under `prefix`. */
  async *keys(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw storeError(error, `listing ${prefix}`);
      }
      for (const item of page.Contents ?? []) if (item.Key) yield item.Key;
      token = page.NextContinuationToken;
    } while (token);
  }

  close(): void {
    this.client.destroy();
  }
}
