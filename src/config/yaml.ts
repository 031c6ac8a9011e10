// The YAML parser, behind a module of our own so that it can be loaded lazily:
// a dynamic import() of the CommonJS package itself would lose its named exports
// in the bundled CLI (scripts/build.mjs), an ES module of ours keeps them.
export { parseDocument } from 'yaml';
