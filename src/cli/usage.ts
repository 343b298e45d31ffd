/**
 * The CLI's usage text: one place, per command.
 *
 * @module
 */

/** The suffix `encrypt` appends and `decrypt` strips. */
export const SUFFIX = ".envl";

const KEY_LOCAL = `  local:PATH              a local key file (made by \`envelope keygen\`)`;
const KEY_CLOUD = `  aws-kms:ID, alias/NAME, arn:aws:kms:..., KEY-UUID
                          an AWS KMS key (region, credentials and endpoint from the
                          standard AWS environment, e.g. AWS_REGION, AWS_ENDPOINT_URL_KMS)
  aliyun-kms:ID           an Alibaba Cloud KMS key id, alias/NAME or acs:kms:... ARN
                          (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
                          ALIBABA_CLOUD_SECURITY_TOKEN, ALIBABA_CLOUD_REGION_ID,
                          ALIBABA_CLOUD_KMS_ENDPOINT)`;
const KEY_AGE = `  age1..., age1pq1...     an age recipient (X25519, or the post-quantum
                          mlkem768x25519 hybrid); its files open with -i IDENTITY-FILE`;
const KEY_KMSTOOL = `  kmstool:PATH            decrypt through a Nitro enclave's kmstool_enclave_cli`;

/** The key forms of commands that wrap a data key (encrypt): no kmstool, which only decrypts. */
const KEYS = `Keys (-k, repeatable; the data key is wrapped for each):
${KEY_LOCAL}
${KEY_CLOUD}
${KEY_AGE}
With no -k, encrypt uses the local default key at $ENVELOPE_LOCAL_KEY, else
~/.config/envelope/local.key (created on first use, mode 0600).`;

/** The key forms of commands that unwrap (decrypt, data-key, serve-keys): age identities come with -i. */
const UNWRAP_KEYS = `Keys (-k, repeatable; each is tried against the file's wrapped keys):
${KEY_LOCAL}
${KEY_CLOUD}
${KEY_KMSTOOL}
An age recipient cannot unwrap: give its identity file with -i (decrypt). With no
-k, the keys the file's header names that are available are used (the local
default key, the AWS and Alibaba Cloud environment).`;

/** The key forms of commands that do both (rewrap, convert): -k wraps, -u unwraps. */
const BOTH_KEYS = `Keys to add (-k):
${KEY_LOCAL}
${KEY_CLOUD}
${KEY_AGE}
Keys to unwrap with (-u): the same but age recipients, plus
${KEY_KMSTOOL}`;

/** The trust flags of decrypt and rewrap (src/cli/trust_flags.ts). */
const TRUST = `  --max-attempts N      wrapped keys that may reach a KMS before giving up
                        (KEY_LIMIT; default 8: a file's key list is not
                        authenticated, so it must not steer your KMS calls)
  --aws-account ID      without -k, call only this account's AWS keys (repeatable)
  --aws-partition P     ... and only this partition's (aws, aws-cn, aws-us-gov)
  --aws-region R        ... and only these regions' (repeatable)
  --aliyun-region R     without -k, call only these Alibaba Cloud regions
                        (each also from ENVELOPE_MAX_ATTEMPTS, ENVELOPE_AWS_ACCOUNTS,
                        ENVELOPE_AWS_PARTITION, ENVELOPE_AWS_REGIONS,
                        ENVELOPE_ALIYUN_REGIONS; lists comma-separated)`;

const EXIT =
  `Exit codes: 0 success; 1 failure (authentication, key, KMS, I/O); 2 usage error; 141 the reader of stdout went away.`;

/** The flags every command takes (args.ts COMMON_FLAGS). */
const COMMON = `Every command also takes:
  -q, --quiet           print nothing but errors (and warnings that ask for an action)
  -v, --verbose         also say which key opened each file, what each KMS was
                        asked, and how long it took
  --json                print one JSON document of what was done (docs/cli.md)`;

/** Where encrypt's keys and context come from when no -k, -R or -c is given. */
const DEFAULTS = `Defaults: with no -k or -R, the keys come from ENVELOPE_KEYS (comma-separated),
else the nearest .envelope.json up from the working folder, else
~/.config/envelope/config.json ({"keys": [...], "context": {...}}), else the
local default key; with no -c, the context comes from the nearest of those
files that has one. The run says where its keys came from.`;

/** Help text per command; `""` is the overview. */
export const USAGE: Record<string, string> = {
  "": `envelope: envelope encryption for files, directories and streams

Usage: envelope <command> [options]

Commands:
  encrypt      encrypt a file, stdin or a directory under a fresh data key
  decrypt      decrypt (recognises envelope, Nitro-enclave and Alibaba-sample files)
  inspect      show a file's format, context and wrapped keys, with no key
  rewrap       add, replace or remove wrapped keys without touching the payload
  cat          write the plaintext, or one byte range of it (--range), to stdout
  keygen       create a local key file (or an age identity with --age)
  key-id       print the key id of key files, to match the keys a file names
  convert      turn a Nitro-enclave or Alibaba-sample file into the envelope format
  extract-key  write one wrapped key of a file as stored (an age file, a KMS blob)
  data-key     print (or write, mode 0600) a file's plaintext data key, for a page
  serve-keys   release data keys to pages over HTTP on 127.0.0.1 (bearer token)
  s3-cleanup   abort the incomplete uploads a killed run left (an s3:// key or prefix/)
  policy       print the KMS policies the Nitro and Alibaba setups need
  completions  print a completion script for bash, zsh or fish
  help         print this overview, a command's help (help CMD), or all of it (help --all)

Files and objects: wherever a command reads or writes a file, s3://BUCKET/KEY
(AWS S3 or any S3-compatible store, from the standard AWS environment, e.g.
AWS_REGION, AWS_ENDPOINT_URL_S3) and oss://BUCKET/KEY (Alibaba Cloud OSS:
ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
ALIBABA_CLOUD_OSS_REGION or ALIBABA_CLOUD_OSS_ENDPOINT) are accepted too.
See docs/s3.md.

Every command takes -q (errors only), -v (keys, KMS calls, timings) and --json.
Encrypt's keys and context can come from ENVELOPE_KEYS or a .envelope.json
(\`envelope help encrypt\`). Shell completion: \`envelope completions bash|zsh|fish\`.

Run \`envelope help <command>\` (or \`envelope <command> --help\`) for a command's options,
and \`envelope --version\` for the version.
The format is specified in docs/FORMAT.md.

${EXIT}
`,
  encrypt:
    `Usage: envelope encrypt [INPUT...|-] [-o OUTPUT|-] [-d DIR] [-r] [-k KEY]... [-c NAME=VALUE]... [-a] [--sign] [--force]

Encrypts INPUT (a file, or - for stdin) or the directory DIR (zipped as it is
read) under a fresh data key, and writes the envelope message to OUTPUT.
Several INPUTs, or -r DIR, give one output per file (INPUT${SUFFIX} beside it).

Options:
  -o, --output PATH     where to write (- for stdout); default: INPUT${SUFFIX}, or
                        DIR.zip${SUFFIX} with -d; stdin goes to stdout; with -r DIR,
                        a folder to rebuild the tree in
  -d, --dir DIR         encrypt a directory as one message (a zip made as it is
                        read, keeping modification times; see docs/cli.md)
  --symlinks HOW        links in DIR with -d: follow (default: a link to a file
                        inside DIR is stored as that file), skip, or store (links
                        whose target is relative and inside DIR, as links); every
                        other link is skipped with a warning
  -r, --recursive       encrypt each file under the DIR INPUTs (links skipped, and
                        files already ending in the suffix), beside it or under -o
  -a, --armor           write text (base64 between BEGIN/END lines), not binary
  --suffix S            the suffix of outputs (default ${SUFFIX})
  --jobs N              files at once with several inputs or -r (default: up to
                        16 files of at most 1 MiB, 4 larger ones; 4 transfers
                        with s3:// or oss://)
  --no-key-cache        a fresh data key for every file (default: one data key
                        serves a run's files for up to 5 minutes and 1,000 files;
                        each file still has its own salt and payload key)
  --skip-existing       with several inputs or -r: leave a file alone when its
                        output exists (run again for what is new)
  -k, --key KEY         a key to wrap the data key for (repeatable; see below)
  -R, --recipients-file FILE  age recipients, one a line (repeatable)
  -c, --context N=V     an encryption context pair (repeatable), authenticated
  --chunk-size SIZE     plaintext bytes per chunk (default 64KiB; units: KiB, MiB)
  --format FORMAT       envelope (default), nitro (the Nitro-enclave application
                        format) or aliyun (the Alibaba Cloud sample's text format)
  --sign                sign the message (a per-message ECDSA P-256 key), so
                        that readers holding only a data key cannot forge it
  --parallelism N       threads at work, the main one included: N-1 workers
                        seal chunks (default: the number of cores, 1 on Node;
                        1: all on the main thread; inputs up to 4 MiB always
                        use one);
                        with -d, N-1 workers (at most 4) read and deflate the
                        files instead, and chunks are sealed on the main thread
  --force               replace OUTPUT if it exists
  -h, --help            this text

Object outputs (-o s3://BUCKET/KEY or oss://BUCKET/KEY; see docs/s3.md):
  -r, --recursive       with DIR and -o s3://BUCKET/PREFIX/: one object per file
                        (PREFIX/REL.envl), data keys shared through a cache
  --part-size BYTES     multipart part size (5 MiB to 5 GiB; default: 8 MiB, or
                        larger so the object fits in 10,000 parts)
  --parts-in-flight N   parts uploaded at once (default 4; memory ~ size x N)
  --content-type TYPE   the object's Content-Type
  --metadata N=V        user metadata (x-amz-meta-N; repeatable)
  --sse ALG             server-side encryption: AES256, aws:kms (OSS: KMS)
  --sse-kms-key-id KEY  the KMS key for --sse aws:kms

${KEYS}

${DEFAULTS}

${COMMON}

${EXIT}
`,
  decrypt:
    `Usage: envelope decrypt [INPUT...|-] [-o OUTPUT|-] [-d OUTDIR] [-r] [-k KEY]... [-c NAME=VALUE]... [--data-key B64] [--format FORMAT] [--force]

Decrypts INPUT (a file, or - for stdin; binary or armored text, recognised
from its first bytes). Several INPUTs, or -r DIR, give one output per file
(INPUT without ${SUFFIX}, beside it or under -o DIR). The output is written to a temporary
file and renamed into place only after the whole message verified: a failed
decrypt leaves no output file. (With -o -, verified chunks stream to stdout as
they verify; a failure then ends the output early with exit code 1.)

Options:
  -o, --output PATH     where to write (- for stdout); default: INPUT without
                        ${SUFFIX} (or a Nitro file's .encrypted); stdin goes to stdout
  -d, --dir OUTDIR      the message holds a directory: extract it into OUTDIR,
                        refusing absolute paths, .. and links out of OUTDIR;
                        modification times are restored
  --symlinks HOW        link entries with -d: refuse (default, UNSAFE_PATH),
                        skip, or create (relative targets inside OUTDIR only)
  -k, --key KEY         a key to unwrap with (repeatable; default: what the header names)
  -i, --identity FILE   an age identity file (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1...)
  -c, --context N=V     require exactly this encryption context (repeatable)
  --data-key B64        the plaintext data key (base64), e.g. fetched from a backend
                        (other users see it in \`ps\`: prefer the next two)
  --data-key-file F     read the data key from F (as \`envelope data-key -o F\` writes it)
                        (also: the ENVELOPE_DATA_KEY variable, when neither flag is given)
  --verification-key B64  require a signed message with exactly this verification
                        key (as \`data-key\` or the key server reports it)
  --max-size SIZE       bound on the extracted size with -d (default 4 GiB), and on
                        a Nitro or Alibaba input and its stdin spool (INPUT_TOO_LARGE)
  --format FORMAT       auto (default: any format, warning about Nitro and Alibaba
                        files, which have no key commitment or authenticated
                        context), envelope (refuse the others), nitro or aliyun
  --require-signed      refuse a message that is not signed (SIGNATURE_REQUIRED)
  --parallelism N       threads at work, the main one included: N-1 workers
                        open chunks (default: the number of cores, 1 on Node;
                        1: all on the main thread)
${TRUST}
  --force               replace OUTPUT, or files in OUTDIR, if they exist
  -r, --recursive       decrypt each file ending in the suffix under the DIR
                        INPUTs (or the .envl objects under s3://BUCKET/PREFIX/
                        with -o DIR); a failing one is reported, the others
                        still written; exit 1 if any failed
  -a, --armor           require armored input (it is recognised without -a)
  --suffix S            the suffix outputs drop (default ${SUFFIX})
  --jobs N              files at once with several inputs or -r (default: up to
                        16 files of at most 1 MiB, 4 larger ones; 4 transfers
                        with s3:// or oss://)
  --no-key-cache        unwrap every file's data key anew (default: a run reuses
                        a data key it unwrapped, for files wrapped under it)
  --skip-existing       with several inputs or -r: leave a file alone when its
                        output exists
  -h, --help            this text

${UNWRAP_KEYS}

${COMMON}

${EXIT}
`,
  cat: `Usage: envelope cat INPUT [--range START-END] [-k KEY]... [-c NAME=VALUE]... [--data-key B64] [--require-signed]

Writes the plaintext of the envelope message INPUT (a file, s3://BUCKET/KEY or
oss://BUCKET/KEY) to stdout. Without --range it streams the whole plaintext,
each chunk once its tag verified (a failure ends the output early with exit
code 1). With --range it reads only the header, the final chunk (which
authenticates the size) and the chunks covering the range, each authenticated
before any of its bytes are written.

Options:
  --range A-B           plaintext bytes A to B inclusive (A- : from A to the end);
                        a range reaching past the end: RANGE_NOT_SATISFIABLE
  -k, --key KEY         a key to unwrap the data key with (repeatable)
  -c, --context N=V     require this encryption context pair (repeatable)
  --data-key B64        the data key itself
  --require-signed      refuse an unsigned message
${TRUST}
  -h, --help            this text

${EXIT}
`,
  "s3-cleanup": `Usage: envelope s3-cleanup s3://BUCKET/KEY|PREFIX/ [--older-than SECONDS] [--dry-run]

Aborts the incomplete multipart uploads of one object KEY, or of every key
under a PREFIX/ (ending in /; s3://BUCKET/ for the whole bucket); also
oss://. A run that fails, or ends on SIGINT, SIGTERM or SIGHUP, aborts its
own upload; one killed with SIGKILL cannot, and its parts stay (invisible,
but stored and billed) until this command or a bucket lifecycle rule
(AbortIncompleteMultipartUpload) removes them. An upload still in progress
there is aborted too (that run then fails, writing nothing): use
--older-than to spare recent ones.

Options:
  --older-than SECONDS  only uploads started at least this long ago (default 0)
  --dry-run             list, do not abort
  -h, --help            this text

${EXIT}
`,
  completions: `Usage: envelope completions bash|zsh|fish

Prints a completion script for the shell (commands, each command's flags,
file names):
  bash   eval "$(envelope completions bash)"            (e.g. in ~/.bashrc)
  zsh    envelope completions zsh > "\${fpath[1]}/_envelope"   (then restart zsh)
  fish   envelope completions fish > ~/.config/fish/completions/envelope.fish

Options:
  -h, --help    this text

${EXIT}
`,
  inspect: `Usage: envelope inspect INPUT [--json]

Shows the format, version, algorithm suite, chunk size, encryption context and
wrapped keys (provider and key id) of INPUT. Needs no key; nothing shown is
authenticated until the file is decrypted.

Options:
  --json        print JSON
  -h, --help    this text

${EXIT}
`,
  rewrap: `Usage: envelope rewrap INPUT [-k NEWKEY]... [--remove KEY]... [-u KEY]... [-o OUTPUT] [--force]

Adds, replaces or removes wrapped keys in INPUT's header; the payload is copied
byte for byte. Where a new key is in the same KMS as an existing one, the KMS
re-encrypts it (no Decrypt of the old entry is needed); otherwise the data key
is unwrapped here, checked against the header, and wrapped again. Either way each
new wrapped key is unwrapped once more with its own key and must open to the
message's data key before anything is written (REWRAP_UNVERIFIED otherwise).

Options:
  -k, --key NEWKEY      wrap the data key for this key too (repeatable)
  --remove KEY          drop wrapped keys: PROVIDER:KEYID as \`inspect\` shows it,
                        or a key spec (repeatable)
  --replace             drop every existing wrapped key not given with -k
  -u, --unwrap KEY      a key to unwrap the existing data key with (default: what
                        the header names)
  -i, --identity FILE   age identities to unwrap with; one for a recipient added
                        with -k also opens the new entry again as a proof
  -R, --recipients-file FILE  add the age recipients of FILE (repeatable)
${TRUST}
  -o, --output PATH     write here instead of replacing INPUT (atomically)
  --force               replace OUTPUT if it exists
  -h, --help            this text

${BOTH_KEYS}

${EXIT}
`,
  "key-id": `Usage: envelope key-id FILE...

Prints the key id of each key file as wrapped keys name it: local:<16 hex> for a
local key file, age:<recipient> for each identity of an age identity file. Use it
to match the keys that \`inspect\` and NO_KEY_MATCHED list to the files you hold.
Only public ids are printed.

Options:
  -h, --help            this text

${EXIT}
`,
  keygen: `Usage: envelope keygen [-o PATH] [--force]
       envelope keygen --age [--pq] -o PATH|- [--force]

Creates a local key file (mode 0600). Default: $ENVELOPE_LOCAL_KEY, else
~/.config/envelope/local.key. Back it up: files encrypted with it cannot be
decrypted without it. With --age, writes an age identity file instead (as
age-keygen does, mode 0600) and prints its recipient, for -k.

Options:
  -o, --output PATH     where to write the key
  --age                 an age X25519 identity (needs -o; - prints it)
  --pq                  with --age: the post-quantum mlkem768x25519 hybrid
  --force               replace an existing key file (files encrypted with it become unreadable)
  -h, --help            this text

${EXIT}
`,
  convert: `Usage: envelope convert INPUT -o OUTPUT [-k KEY]... [-u KEY]... [--data-key B64] [--force]

Turns a Nitro-enclave file (application_code.zip.encrypted) or an Alibaba-sample
file into the envelope format. The source is decrypted and authenticated in
full before OUTPUT appears (it is written to a temporary file and renamed).
An Alibaba file's context becomes the envelope context; a context that is not
a flat JSON object of strings is kept whole under the name aliyun-context.

Options:
  -o, --output PATH     where to write the envelope file (- for stdout); required
  -k, --key KEY         a key to wrap the new data key for (repeatable; default:
                        the local default key, as encrypt)
  -u, --unwrap KEY      a key to open the source's data key with: an AWS KMS key
                        or kmstool:PATH (Nitro), aliyun-kms:ID (Alibaba); default:
                        the KMS the source names, through the environment
  --data-key B64        the source's plaintext data key, base64
  --force               replace OUTPUT if it exists
  -h, --help            this text

${BOTH_KEYS}

${EXIT}
`,
  "extract-key": `Usage: envelope extract-key INPUT [--provider NAME] [--key-id ID] [-o PATH] [--force]

Writes one wrapped data key of INPUT exactly as stored, so the key's own tool
opens it without envelope. In an envelope file, --provider and --key-id pick
the entry (as \`inspect\` shows them; needed when there is more than one): an
age entry is an age file of the 32-byte data key (\`age -d -i IDENTITY PATH\`),
an aws-kms entry a CiphertextBlob. In a Nitro-enclave file, the KMS
CiphertextBlob, as the sample's extract_decryption_key.py does; try it with
\`aws kms decrypt --ciphertext-blob fileb://data_key.encrypted\` to check that
the parent instance is refused.

Options:
  -o, --output PATH     where to write (- for stdout); default: data_key.encrypted
  --provider NAME       the entry's provider (age, aws-kms, aliyun-kms, local)
  --key-id ID           the entry's key id
  --force               replace PATH if it exists
  -h, --help            this text

${EXIT}
`,
  "data-key": `Usage: envelope data-key INPUT [-k KEY]... [-c NAME=VALUE]... [-o FILE] [--require-signed] [--force]

Unwraps the data key of INPUT (only its header is read), checks it against the
header's key commitment and tag, and prints it as base64, or writes it to FILE
with mode 0600. Whoever holds it can decrypt INPUT: hand it over an
authenticated channel (or run \`envelope serve-keys\` for pages).

Options:
  -k, --key KEY         a key to unwrap with (repeatable; default: what the header names)
  -c, --context N=V     require exactly this encryption context (repeatable)
  -o, --output FILE     write the key to FILE (mode 0600) instead of stdout
  --require-signed      refuse a message that is not signed
${TRUST}
  --force               replace FILE if it exists
  -h, --help            this text

${UNWRAP_KEYS}

${EXIT}
`,
  "serve-keys":
    `Usage: envelope serve-keys -k KEY... --token-file FILE [--port N] [--origin URL]... [-c NAME=VALUE]... [--rate N]

Releases data keys to pages: listens on 127.0.0.1:N (default 8001) for POST
requests whose body is a message's header, with "Authorization: Bearer TOKEN".
The token is compared in constant time before anything else; then only the
keys given with -k unwrap (no discovery), the key commitment and header tag
are checked, and the answer is JSON { dataKey, provider, keyId,
verificationKey? } with Cache-Control: no-store. Refusals are JSON
{ error: { code, message, hint } }. One line per request goes to stderr,
without key material. Put it behind a TLS proxy to serve other machines.

Options:
  -k, --key KEY         a key to unwrap with (repeatable, required)
  --token-file FILE     the bearer token (one line, at least 16 characters)
  --port N              the port on 127.0.0.1 (default 8001; 0 picks a free one)
  --origin URL          a page origin allowed to ask, with CORS (repeatable)
  -c, --context N=V     release only keys of messages with exactly this context
  --require-signed      release only keys of signed messages
  --rate N              at most N releases a minute (429 beyond)
  --max-attempts N      wrapped keys tried per request (default 4)
  -h, --help            this text

${UNWRAP_KEYS}

${EXIT}
`,
  policy: `Usage: envelope policy aws --key-arn ARN --account ID --image-sha384 HEX [--role-arn ARN] [--only DOC]
       envelope policy aliyun --region REGION --account ID --key-id KEY-ID

Prints, as JSON, the policies the sample setups need.

aws: the KMS key policy (the account administers the key; the parent
instance's role may call Decrypt, which is denied unless the request carries
an attestation document whose ImageSha384 is the enclave image's PCR0), the
parent role's IAM policy (kms:Decrypt on the key) and the encryptor's IAM
policy (kms:Encrypt, kms:GenerateDataKey), as one object.
  --key-arn ARN         arn:aws:kms:REGION:ACCOUNT:key/KEY-ID
  --account ID          the 12-digit account that owns the key
  --image-sha384 HEX    PCR0 of the enclave image (96 hex digits)
  --role-arn ARN        the parent instance's IAM role (default: the account root)
  --only DOC            print one document: key-policy, parent-role-policy or
                        encryptor-policy

aliyun: the RAM policy allowing kms:Encrypt, kms:Decrypt and
kms:GenerateDataKey on acs:kms:REGION:ACCOUNT:key/KEY-ID.
  --region REGION       e.g. cn-beijing
  --account ID          the account id (UID)
  --key-id KEY-ID       the key's id

  -h, --help            this text

${EXIT}
`,
};

// Every command's help ends with the flags all commands take, then the exit codes.
for (const [name, text] of Object.entries(USAGE)) {
  if (name !== "" && !text.includes(COMMON)) USAGE[name] = text.replace(EXIT, `${COMMON}\n\n${EXIT}`);
}
