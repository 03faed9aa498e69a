#!/usr/bin/env node
// Generates src/schema.ts from quantd's OpenAPI document with openapi-typescript (pinned in
// package.json), or checks that the committed file is what the document generates.
//
//   npm run generate                                  # from $QUANTD_URL (default http://127.0.0.1:8000)
//   npm run generate -- --url http://127.0.0.1:8000   # from a running server's /v1/openapi.json
//   npm run generate -- --file openapi.json           # from a saved document
//   npm run check-schema -- --url URL                 # generate into a temp file and diff: exit 1 on drift
//
// `/v1/openapi.json` needs no token.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', 'src', 'schema.ts');

const HEADER = `// Generated from quantd's OpenAPI document (GET /v1/openapi.json) by openapi-typescript,
// pinned in package.json. Do not edit: run \`npm run generate\` (README.md); CI fails when this
// file differs from what the served document generates (\`npm run check-schema\`).

`;

function usage(message) {
  if (message) console.error(`generate: ${message}`);
  console.error('usage: node scripts/generate.mjs [--check] [--url URL | --file PATH] [--out PATH]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { check: false, url: undefined, file: undefined, out: target };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--check') opts.check = true;
    else if (a === '--url') opts.url = value();
    else if (a === '--file') opts.file = value();
    else if (a === '--out') opts.out = value();
    else usage(`unknown argument ${a}`);
  }
  if (opts.url && opts.file) usage('give --url or --file, not both');
  if (!opts.file && !opts.url) opts.url = process.env.QUANTD_URL || 'http://127.0.0.1:8000';
  return opts;
}

async function load(opts) {
  if (opts.file) return JSON.parse(readFileSync(opts.file, 'utf8'));
  const url = new URL('/v1/openapi.json', opts.url);
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot reach ${url}: ${e.cause?.message ?? e.message}; start \`quantd serve\` or pass --file`);
  }
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return res.json();
}

async function generate(doc) {
  const ast = await openapiTS(doc, { alphabetize: true, emptyObjectsUnknown: true, silent: true });
  return HEADER + astToString(ast);
}

const opts = parseArgs(process.argv.slice(2));
let text;
try {
  text = await generate(await load(opts));
} catch (e) {
  console.error(`generate: ${e.message}`);
  process.exit(1);
}

if (!opts.check) {
  writeFileSync(opts.out, text);
  console.error(`generate: wrote ${opts.out}`);
  process.exit(0);
}

// --check: the regenerated types in a temp file, diffed against the committed ones.
const dir = mkdtempSync(join(tmpdir(), 'quantd-schema-'));
let code = 1;
try {
  const fresh = join(dir, 'schema.ts');
  writeFileSync(fresh, text);
  const diff = spawnSync(
    'diff',
    ['-u', '--label', 'src/schema.ts (committed)', '--label', 'src/schema.ts (served)', opts.out, fresh],
    { encoding: 'utf8' },
  );
  if (diff.error) throw diff.error;
  if (diff.status === 0) {
    console.error('check-schema: src/schema.ts matches the served OpenAPI document');
    code = 0;
  } else {
    process.stdout.write(diff.stdout);
    process.stderr.write(diff.stderr);
    console.error(
      'check-schema: src/schema.ts differs from what the served OpenAPI document generates; run `npm run generate` against the new server and commit the result',
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
