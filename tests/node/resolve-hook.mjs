// Module resolution hook: resolves bare specifiers ("@aws/durable-execution-sdk-js", ...) from
// tests/node/node_modules for scripts that live elsewhere in the tree (tests/conformance/seed/*.mjs,
// bench/sdk_*.mjs). The seed functions must stay byte-for-byte as the article prints them, so they
// import the SDK by its package name; without this hook Node would look for node_modules beside
// them and fail. Load it with `node --import ./tests/node/register.mjs script.mjs`, or call
// register.mjs's side effect before importing anything that needs the SDK.
import { pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const anchor = pathToFileURL(path.join(here, "package.json")).href;

function isBare(spec) {
  return !spec.startsWith(".") && !spec.startsWith("/") && !spec.startsWith("file:") &&
    !spec.startsWith("node:") && !spec.startsWith("data:");
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (!isBare(specifier) || err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
    return nextResolve(specifier, { ...context, parentURL: anchor });
  }
}
