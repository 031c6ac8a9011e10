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

{{/* The namespace of every object: namespaceOverride, else the release's. */}}
{{- define "etcd-space-guard.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "etcd-space-guard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "etcd-space-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: etcd-space-guard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
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
The image reference. A repository whose first part is a registry host (it has a "." or a ":",
or is localhost, as Docker reads references) is taken whole: image.registry would otherwise
turn registry.example.com/guard into ghcr.io/registry.example.com/guard.
*/}}
{{- define "etcd-space-guard.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry }}
{{- $repository := .Values.image.repository }}
{{- $first := first (splitList "/" $repository) }}
{{- $hasHost := and (contains "/" $repository) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $name := ternary $repository (printf "%s/%s" $registry $repository) (or $hasHost (not $registry)) }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $name .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $name (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The port config.listen binds: the container port, hence the probes' and the Service's target.
A host other than "all addresses" would be unreachable for kubelet and the Service.
*/}}
{{- define "etcd-space-guard.port" -}}
{{- $listen := dig "listen" ":9379" .Values.config }}
{{- $host := regexReplaceAll ":[0-9]+$" $listen "" }}
{{- if not (has $host (list "" "0.0.0.0" "[::]")) }}
{{- fail (printf "config.listen %q binds %s only: kubelet and the Service could not reach the guard; write \":PORT\"" $listen $host) }}
{{- end }}
{{- regexFind "[0-9]+$" $listen }}
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
