/*
 * evp_gcm: AES-256-GCM over a whole file with OpenSSL's EVP interface, the
 * one-core speed limit in scripts/bench_compare.ts (built there with
 * `cc -O2 evp_gcm.c -lcrypto`).
 *
 *   evp_gcm enc KEYFILE IN OUT   OUT = IV (12) || ciphertext || tag (16)
 *   evp_gcm dec KEYFILE IN OUT   exit 1 when the tag does not verify
 *
 * KEYFILE holds the 32 raw key bytes. One GCM message, 1 MiB reads and
 * writes, no threads. This is a measuring stick, not a file format: the
 * decrypt direction writes plaintext before the tag is checked at the end
 * (envelope's chunked format exists to avoid exactly that).
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BUF (1 << 20)

static int fail(const char *what) {
  fprintf(stderr, "evp_gcm: %s failed\n", what);
  return 1;
}

static int read_full(FILE *f, unsigned char *p, size_t n) { return fread(p, 1, n, f) == n; }

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[1], "enc") != 0 && strcmp(argv[1], "dec") != 0)) {
    fprintf(stderr, "usage: evp_gcm enc|dec KEYFILE IN OUT\n");
    return 2;
  }
  int enc = strcmp(argv[1], "enc") == 0;
  unsigned char key[32], iv[12], tag[16];
  FILE *kf = fopen(argv[2], "rb");
  if (!kf || !read_full(kf, key, sizeof key)) return fail("reading the key file");
  fclose(kf);
  FILE *in = fopen(argv[3], "rb");
  FILE *out = fopen(argv[4], "wb");
  if (!in || !out) return fail("opening the input or output");
  struct stat st;
  if (fstat(fileno(in), &st) != 0) return fail("stat of the input");
  long long body = st.st_size;
  if (enc) {
    if (RAND_bytes(iv, sizeof iv) != 1) return fail("RAND_bytes");
    if (fwrite(iv, 1, sizeof iv, out) != sizeof iv) return fail("writing the IV");
  } else {
    if (body < 28 || !read_full(in, iv, sizeof iv)) return fail("reading the IV (input too short?)");
    body -= 28;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1) return fail("EVP_CipherInit_ex");
  memset(key, 0, sizeof key);
  unsigned char *buf = malloc(BUF), *res = malloc(BUF + 32);
  if (!buf || !res) return fail("malloc");
  int n;
  while (body > 0 || enc) {
    size_t want = enc ? BUF : (body < BUF ? (size_t)body : BUF);
    size_t got = fread(buf, 1, want, in);
    if (got == 0) {
      if (!enc) return fail("reading the input (short)");
      break;
    }
    if (EVP_CipherUpdate(ctx, res, &n, buf, (int)got) != 1) return fail("EVP_CipherUpdate");
    if (fwrite(res, 1, (size_t)n, out) != (size_t)n) return fail("writing the output");
    if (!enc) body -= (long long)got;
  }
  if (enc) {
    if (EVP_CipherFinal_ex(ctx, res, &n) != 1) return fail("EVP_CipherFinal_ex");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, sizeof tag, tag) != 1) return fail("getting the tag");
    if (fwrite(tag, 1, sizeof tag, out) != sizeof tag) return fail("writing the tag");
  } else {
    if (!read_full(in, tag, sizeof tag)) return fail("reading the tag");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) != 1) return fail("setting the tag");
    if (EVP_CipherFinal_ex(ctx, res, &n) != 1) return fail("verifying the tag");
  }
  EVP_CIPHER_CTX_free(ctx);
  if (fclose(out) != 0) return fail("closing the output");
  fclose(in);
  free(buf);
  free(res);
  return 0;
}
