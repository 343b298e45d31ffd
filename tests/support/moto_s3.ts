/**
 * moto's S3 on 127.0.0.1 for the object-storage tests and the S3 benchmark:
 * the same moto server as {@linkcode startMoto} (it serves S3 and KMS on one
 * port), plus S3 clients, buckets and the environments that point a child
 * process at it as `s3://` (the AWS variables) or as `oss://` (the
 * ALIBABA_CLOUD_* variables with the OSS endpoint set to moto).
 *
 * @module
 */
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { type Moto, MOTO_CREDENTIALS, MOTO_REGION, startMoto } from "./moto.ts";

/** A running moto with S3 helpers. */
export interface MotoS3 {
  readonly moto: Moto;
  readonly endpoint: string;
  /** A new S3 client for `endpoint` (default: moto itself); destroyed by `close`. */
  client(config?: Partial<S3ClientConfig>): S3Client;
  /** Creates a bucket (with CORS for ranged reads from any origin when `cors`). */
  createBucket(name: string, options?: { cors?: boolean }): Promise<void>;
  /** Incomplete multipart uploads in `bucket` (key and upload id). */
  uploads(bucket: string): Promise<{ key: string; uploadId: string }[]>;
  /** Object keys in `bucket`. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** Variables for a child process using `s3://` against `endpoint` (default moto), KMS at moto. */
  env(endpoint?: string): Record<string, string>;
  /** Variables for a child process using `oss://` against `endpoint` (default moto). */
  ossEnv(endpoint?: string): Record<string, string>;
  close(): Promise<void>;
}

/** Starts moto and returns S3 helpers for it. */
export async function startMotoS3(): Promise<MotoS3> {
  const moto = await startMoto();
  const clients: S3Client[] = [];
  const client = (config: Partial<S3ClientConfig> = {}) => {
    const c = new S3Client({
      region: MOTO_REGION,
      endpoint: moto.endpoint,
      credentials: MOTO_CREDENTIALS,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      ...config,
    });
    clients.push(c);
    return c;
  };
  const admin = client();
  return {
    moto,
    endpoint: moto.endpoint,
    client,
    async createBucket(name, options = {}) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      if (options.cors) {
        await admin.send(
          new PutBucketCorsCommand({
            Bucket: name,
            CORSConfiguration: {
              CORSRules: [{
                AllowedOrigins: ["*"],
                AllowedMethods: ["GET", "HEAD"],
                AllowedHeaders: ["Range"],
                ExposeHeaders: ["Content-Range", "Content-Length", "ETag"],
                MaxAgeSeconds: 600,
              }],
            },
          }),
        );
      }
    },
    async uploads(bucket) {
      const out = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (out.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
    },
    async keys(bucket, prefix) {
      const out = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    env(endpoint = moto.endpoint) {
      return { ...moto.env(), AWS_ENDPOINT_URL_S3: endpoint };
    },
    ossEnv(endpoint = moto.endpoint) {
      return {
        ...moto.env(),
        ALIBABA_CLOUD_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: MOTO_CREDENTIALS.secretAccessKey,
        ALIBABA_CLOUD_OSS_ENDPOINT: endpoint,
        ALIBABA_CLOUD_OSS_REGION: MOTO_REGION,
      };
    },
    async close() {
      for (const c of clients.splice(0)) c.destroy();
      await moto.close();
    },
  };
}
