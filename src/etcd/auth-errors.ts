// etcd's own authentication (users, passwords, roles) refusing a call, as one sentence.
// etcd 3.4 and 3.5 say it in the message, under several gRPC codes: a wrong password is
// INVALID_ARGUMENT, a missing role PERMISSION_DENIED ("etcdserver: permission denied") or,
// for Defragment and Snapshot, UNKNOWN ("auth: permission denied"); a call without a user
// on a cluster with auth enabled is "user name is empty" (INVALID_ARGUMENT or UNKNOWN).
import { EtcdAccessError, errorMessage } from '../errors.js';

const WRONG_PASSWORD = /authentication failed, invalid user ID or password/;
const PERMISSION_DENIED = /permission denied/;
const NO_USER = /user name is empty/;
const AUTH_DISABLED = /authentication is not enabled/;

/** The auth refusal `err` is, as an EtcdAccessError of kind 'auth'; undefined when it is none. */
export function authFailure(
  endpoint: string,
  operation: string,
  username: string | undefined,
  err: unknown,
): EtcdAccessError | undefined {
  const message = errorMessage(err);
  const refusal = (problem: string, fix: string): EtcdAccessError =>
    new EtcdAccessError(endpoint, 'auth', problem, fix, { cause: err });
  if (WRONG_PASSWORD.test(message))
    return refusal(
      `etcd at ${endpoint} refused user "${username ?? ''}": wrong user name or password`,
      "check --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD) or the cluster's auth.passwordFile",
    );
  if (PERMISSION_DENIED.test(message)) {
    if (username === undefined)
      return refusal(
        `etcd at ${endpoint} refused ${operation}: it needs the root role`,
        "use a client certificate whose common name is an etcd user with the root role (or etcd's own client certificate), or pass --user with a root user",
      );
    return refusal(
      `etcd at ${endpoint} refused ${operation} for user "${username}": it needs the root role`,
      `grant it with \`etcdctl user grant-role ${username} root\`, or use a user that has it`,
    );
  }
  if (NO_USER.test(message))
    return refusal(
      `etcd at ${endpoint} has authentication enabled and refused ${operation} without a user`,
      'pass --user and --password of a user with the root role (or a client certificate whose common name is one)',
    );
  if (AUTH_DISABLED.test(message))
    return refusal(
      `etcd at ${endpoint} has authentication disabled, so it takes no user "${username ?? ''}"`,
      "drop --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD) and the cluster's auth",
    );
  return undefined;
}
