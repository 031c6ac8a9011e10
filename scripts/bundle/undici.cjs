// 'undici' in the bundled command. undici's index loads everything it offers
// (fetch, WebSocket, caches, mocks: 1.2 MB of code, loaded at every start);
// the command uses an Agent, its request() and the error classes: the same files
// of the installed undici, nothing else. scripts/build.mjs fails the build if src/
// imports any other name from undici.
'use strict';

const Dispatcher = require('undici/lib/dispatcher/dispatcher');

// What undici's index does for every dispatcher: request(), stream(), pipeline()...
Object.assign(Dispatcher.prototype, require('undici/lib/api'));

module.exports = {
  Agent: require('undici/lib/dispatcher/agent'),
  errors: require('undici/lib/core/errors'),
};
