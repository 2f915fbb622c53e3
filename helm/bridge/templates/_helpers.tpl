{{/* Names */}}
{{- define "bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels */}}
{{- define "bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bridge.labels" -}}
helm.sh/chart: {{ include "bridge.chart" . }}
{{ include "bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bridge
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Modes */}}
{{- define "bridge.postgresql" -}}
{{- if eq .Values.database.type "postgresql" }}true{{ end }}
{{- end }}

{{- define "bridge.worker" -}}
{{- if and .Values.worker.enabled (eq .Values.database.type "postgresql") }}true{{ end }}
{{- end }}

{{/* Render-time checks: a clear message instead of a cluster that misbehaves. */}}
{{- define "bridge.validate" -}}
{{- $v := .Values }}
{{- if eq $v.database.type "sqlite" }}
{{- if gt (int $v.replicaCount) 1 }}
{{- fail (printf "SQLite mode runs exactly one pod, but replicaCount is %d. Set replicaCount=1, or use database.type=postgresql for more replicas." (int $v.replicaCount)) }}
{{- end }}
{{- if $v.autoscaling.enabled }}
{{- fail "SQLite mode runs exactly one pod, so autoscaling.enabled must be false. Use database.type=postgresql to autoscale." }}
{{- end }}
{{- if $v.worker.enabled }}
{{- fail "SQLite mode runs exactly one pod, which delivers too: worker.enabled must be false. Use database.type=postgresql for a separate worker Deployment." }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
{{- fail "SQLite mode runs exactly one pod: a PodDisruptionBudget would block every node drain. Set podDisruptionBudget.enabled=false, or use database.type=postgresql." }}
{{- end }}
{{- else if eq $v.database.type "postgresql" }}
{{- if not (include "bridge.databaseUrlSecretName" .) }}
{{- fail "database.type=postgresql reads the database URL from a Secret: set secrets.existingSecret (key database.urlSecret.key), database.urlSecret.name, or secrets.create with the URL in secrets.values." }}
{{- end }}
{{- if and $v.secrets.create (not $v.database.urlSecret.name) (not (hasKey $v.secrets.values $v.database.urlSecret.key)) }}
{{- fail (printf "database.type=postgresql with secrets.create: secrets.values needs the key %s (the database URL), or set database.urlSecret.name." $v.database.urlSecret.key) }}
{{- end }}
{{- else }}
{{- fail (printf "database.type must be sqlite or postgresql, not %q." $v.database.type) }}
{{- end }}
{{- if and $v.secrets.create $v.secrets.existingSecret }}
{{- fail "Set either secrets.existingSecret or secrets.create, not both." }}
{{- end }}
{{- if and $v.mappings $v.existingMappingsConfigMap }}
{{- fail "Set either mappings (files in values) or existingMappingsConfigMap, not both." }}
{{- end }}
{{- range $name, $_ := $v.mappings }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+\\.yaml$" $name) }}
{{- fail (printf "mappings: %q is not a mapping file name: use letters, digits, '-', '_' or '.', ending in .yaml (bridge reads only *.yaml)." $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Image reference: digest wins over tag. */}}
{{- define "bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret whose keys all become environment variables (envFrom). */}}
{{- define "bridge.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.create }}
{{- printf "%s-secrets" (include "bridge.fullname" .) }}
{{- end }}
{{- end }}

{{- define "bridge.databaseUrlSecretName" -}}
{{- default (include "bridge.secretName" .) .Values.database.urlSecret.name }}
{{- end }}

{{- define "bridge.mappingsConfigMapName" -}}
{{- if .Values.existingMappingsConfigMap }}
{{- .Values.existingMappingsConfigMap }}
{{- else if .Values.mappings }}
{{- printf "%s-mappings" (include "bridge.fullname" .) }}
{{- end }}
{{- end }}

{{- define "bridge.sqliteClaimName" -}}
{{- default (printf "%s-data" (include "bridge.fullname" .)) .Values.database.sqlite.persistence.existingClaim }}
{{- end }}

{{/* A number as a plain string: 1048576, not 1.048576e+06. */}}
{{- define "bridge.plain" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/* Checksums: a change of settings, mappings or the created Secret rolls the pods. */}}
{{- define "bridge.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.mappings }}
checksum/mappings: {{ include (print $.Template.BasePath "/configmap-mappings.yaml") . | sha256sum }}
{{- else if .Values.existingMappingsConfigMap }}
{{- $existing := lookup "v1" "ConfigMap" .Release.Namespace .Values.existingMappingsConfigMap }}
{{- if $existing }}
checksum/mappings: {{ toJson $existing.data | sha256sum }}
{{- end }}
{{- end }}
{{- if .Values.secrets.create }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* Environment of every bridge container (API, worker, migration). */}}
{{- define "bridge.env" -}}
- name: BRIDGE_HOST
  value: "0.0.0.0"
- name: BRIDGE_PORT
  value: {{ .Values.containerPort | toString | quote }}
- name: BRIDGE_ADMIN_HOST
  value: "0.0.0.0"
- name: BRIDGE_ADMIN_PORT
  value: {{ .Values.adminPort | toString | quote }}
- name: BRIDGE_MAPPINGS_DIR
  value: /etc/bridge/mappings
{{- if include "bridge.postgresql" . }}
- name: BRIDGE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "bridge.databaseUrlSecretName" . }}
      key: {{ .Values.database.urlSecret.key }}
- name: BRIDGE_DATABASE_POOL_SIZE
  value: {{ include "bridge.plain" .Values.database.poolSize | quote }}
{{- else }}
- name: BRIDGE_DATABASE_URL
  value: sqlite:////var/lib/bridge/bridge.db
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom of the API and worker containers. */}}
{{- define "bridge.envFrom" -}}
- configMapRef:
    name: {{ include "bridge.fullname" . }}-config
{{- with include "bridge.secretName" . }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes and mounts shared by the API and worker pods. */}}
{{- define "bridge.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}

{{- define "bridge.volumes" -}}
{{ include "bridge.tmpVolume" . }}
{{- with include "bridge.mappingsConfigMapName" . }}
- name: mappings
  configMap:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "bridge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "bridge.mappingsConfigMapName" . }}
- name: mappings
  mountPath: /etc/bridge/mappings
  readOnly: true
{{- end }}
{{- end }}

{{/* Probes, from values. */}}
{{- define "bridge.probes" -}}
{{- with .Values.startupProbe }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* HorizontalPodAutoscaler metrics. */}}
{{- define "bridge.hpaMetrics" -}}
{{- if not (kindIs "invalid" .targetCPUUtilizationPercentage) }}
- type: Resource
  resource:
    name: cpu
    target:
      type: Utilization
      averageUtilization: {{ include "bridge.plain" .targetCPUUtilizationPercentage }}
{{- end }}
{{- if not (kindIs "invalid" .targetMemoryUtilizationPercentage) }}
- type: Resource
  resource:
    name: memory
    target:
      type: Utilization
      averageUtilization: {{ include "bridge.plain" .targetMemoryUtilizationPercentage }}
{{- end }}
{{- end }}
