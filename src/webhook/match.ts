// Which clusters a payload asks to remediate. The alert only asks: the run's
// preflight then checks that etcd itself shows the need.
import type { Alert, AlertmanagerPayload } from './payload.js';

export interface MatchOptions {
  alertnames: string[];
  clusterLabel: string;
  clusters: string[];
}

export interface Match {
  /** Firing, relevant alerts by the cluster they name. */
  byCluster: Map<string, Alert[]>;
  /** Why alerts were not used; the answer's reason when nothing matched. */
  ignored: string[];
}

export function matchAlerts(payload: AlertmanagerPayload, options: MatchOptions): Match {
  const byCluster = new Map<string, Alert[]>();
  const ignored: string[] = [];
  const names = new Set(options.alertnames);
  const firing = payload.alerts.filter((a) => a.status === 'firing');
  if (payload.alerts.length > firing.length)
    ignored.push(`${payload.alerts.length - firing.length} resolved alert(s)`);
  for (const alert of firing) {
    const name = alert.labels.alertname ?? '(no alertname)';
    if (!names.has(name)) {
      ignored.push(`alert ${name} is not one of ${options.alertnames.join(', ')}`);
      continue;
    }
    const labelled = alert.labels[options.clusterLabel];
    const cluster = labelled ?? (options.clusters.length === 1 ? options.clusters[0] : undefined);
    if (cluster === undefined) {
      ignored.push(
        `alert ${name} has no "${options.clusterLabel}" label and ${options.clusters.length} clusters are configured`,
      );
      continue;
    }
    if (!options.clusters.includes(cluster)) {
      ignored.push(`alert ${name} is for cluster "${cluster}", which is not configured here`);
      continue;
    }
    byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), alert]);
  }
  if (payload.alerts.length === 0) ignored.push('the payload has no alerts');
  return { byCluster, ignored: [...new Set(ignored)] };
}
