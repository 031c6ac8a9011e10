{{/* The chart's name, and the release-qualified name most objects use. */}}
{{- define "etcd-space-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "etcd-space-guard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "etcd-space-guard.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "etcd-space-guard.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "etcd-space-guard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "etcd-space-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "etcd-space-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etcd-space-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "etcd-space-guard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "etcd-space-guard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the webhook token: the user's, or the one this chart creates. */}}
{{- define "etcd-space-guard.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "etcd-space-guard.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{- define "etcd-space-guard.webhookSecretKey" -}}
{{- if .Values.webhook.existingSecret }}{{ .Values.webhook.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/*
A probe from values, as the web config allows: HTTPS when it serves TLS; when it requires a
client certificate or basic auth, which kubelet cannot send, a tcpSocket probe on the port.
*/}}
{{- define "etcd-space-guard.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if or .web.clientCertRequired .web.basicAuth }}
{{- $_ := unset $probe "httpGet" }}
{{- $_ := set $probe "tcpSocket" (dict "port" "http") }}
{{- else if and .web.tls $probe.httpGet }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
