// etcd3's gRPC service definitions for the bundled command, made without
// @grpc/proto-loader. At every start, etcd3 parses its .proto files and
// proto-loader builds reflection descriptors for its hundred message types
// (docs/benchmarks.md); a gRPC client needs neither. scripts/build.mjs parses
// the .proto files once, at build time, into protobufjs JSON, and fails the
// build unless this module yields the same services, methods and encodings as
// proto-loader.
'use strict';

const { Root, Service } = require('protobufjs/light');

/** The package definition grpc-js's loadPackageDefinition takes: services only. */
function fromJSON(json, options) {
  const root = Root.fromJSON(json);
  root.resolveAll();
  const definition = {};
  const visit = (namespace, prefix) => {
    for (const object of namespace.nestedArray) {
      const name = prefix ? `${prefix}.${object.name}` : object.name;
      if (object instanceof Service) definition[name] = serviceDefinition(object, name, options);
      else if (object.nestedArray) visit(object, name);
    }
  };
  visit(root, '');
  return definition;
}

function serviceDefinition(service, name, options) {
  const methods = {};
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType;
    const response = method.resolvedResponseType;
    methods[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: (message) => request.encode(request.fromObject(message)).finish(),
      requestDeserialize: (bytes) => request.toObject(request.decode(bytes), options),
      responseSerialize: (message) => response.encode(response.fromObject(message)).finish(),
      responseDeserialize: (bytes) => response.toObject(response.decode(bytes), options),
      // The name etcd3 calls the method by (Range -> range, HashKV -> hashKV).
      originalName: method.name[0].toLowerCase() + method.name.slice(1),
    };
  }
  return methods;
}

module.exports = { fromJSON };
