// How each contract script is run: `node <script> ARGS...` calls its function with ARGS and prints
// the result as one JSON line (an error exits 1, described); runner.cjs calls the same function.

// The ClickSend SDK rejects with its HTTP answer, not an Error: its body says what went wrong.
const describe = (error) =>
  error && error.stack ? error.stack : JSON.stringify(error && error.body ? error.body : error);

function script(module, run) {
  module.exports = run;
  if (require.main !== module) return;
  run(...process.argv.slice(2))
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error) => {
      console.error(describe(error));
      process.exit(1);
    });
}

module.exports = Object.assign(script, { describe });
