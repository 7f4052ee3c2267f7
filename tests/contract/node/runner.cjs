// One Node process for many contract checks, so each SDK is loaded once rather than once a check
// (~0.3 s of CPU each). Reads one JSON request a line on stdin and answers each with one line,
// "lynsms-runner " and JSON:
//   {"script": "fetches.cjs", "args": [...]}  -> {"ok": true, "result": <what the script's function returns>}
//   {"snippet": "<code>"}                      -> {"ok": true, "printed": ["<its first console.log line>"]}
// A snippet (a README example) runs as written, as a CommonJS module beside node_modules; it is done
// when it prints, and fails on an uncaught error or an unhandled rejection, as `node snippet.cjs` would.
// Any failure answers {"ok": false, "error": "<stack>"}.
const path = require("node:path");
const readline = require("node:readline");
const util = require("node:util");
const vm = require("node:vm");
const { createRequire } = require("node:module");
const { describe } = require("./cli.cjs");

let running = null; // the snippet in progress: { printed, done, fail }

// stdout carries the answers (each line marked, in case a library writes there itself); what the
// SDKs log goes to stderr, except a snippet's console.log, which is its output.
const REPLY = "lynsms-runner ";
const log = console.error;
console.log = console.info = console.debug = (...args) => {
  if (running === null) return log(...args);
  running.printed.push(util.format(...args));
  running.done();
};
const failed = (error) => {
  if (running === null) throw error;
  running.fail(error);
};
process.on("unhandledRejection", failed);
process.on("uncaughtException", failed);

function snippet(code, count) {
  const filename = path.join(__dirname, `snippet-${count}.cjs`); // no such file: it names the module
  return new Promise((resolve, reject) => {
    const printed = [];
    running = { printed, done: () => resolve({ printed }), fail: reject };
    const body = vm.compileFunction(code, ["require", "module", "exports", "__filename", "__dirname"], { filename });
    const module = { exports: {} };
    body(createRequire(filename), module, module.exports, filename, __dirname);
  }).finally(() => {
    running = null;
  });
}

async function answer(request, count) {
  if (request.snippet !== undefined) return snippet(request.snippet, count);
  const run = require(path.join(__dirname, request.script));
  return { result: await run(...request.args) };
}

let count = 0;
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  count += 1;
  let reply;
  try {
    reply = { ok: true, ...(await answer(JSON.parse(line), count)) };
  } catch (error) {
    reply = { ok: false, error: describe(error) };
  }
  process.stdout.write(REPLY + JSON.stringify(reply) + "\n");
});
