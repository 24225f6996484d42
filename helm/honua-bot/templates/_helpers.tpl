{{/* Names and labels (the usual chart conventions). */}}
{{- define "honua-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "honua-bot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "honua-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "honua-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "honua-bot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "honua-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "honua-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "honua-bot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Replicas: replicaCount, or 2 when the bot has its own Redis (replicas share
its store and queue) and 1 without. Several replicas without that Redis would
each keep a private in-memory store and post every incident again: refused.
*/}}
{{- define "honua-bot.replicas" -}}
{{- $redis := .Values.secrets.redisUrl.name -}}
{{- $n := .Values.replicaCount | default (ternary 2 1 (ne $redis "")) | int -}}
{{- if and (gt $n 1) (eq $redis "") -}}
{{- fail (printf "replicaCount: %d replicas need secrets.redisUrl (the bot's own Redis); without it each replica keeps a separate in-memory store and posts every incident again" $n) -}}
{{- end -}}
{{- $n -}}
{{- end -}}

{{/*
The namespaces the probes and actions work in: rbac.namespaces, or the
release's namespace.
*/}}
{{- define "honua-bot.targetNamespaces" -}}
{{- $ns := .Values.rbac.namespaces | default (list .Release.Namespace) -}}
{{- toJson ($ns | uniq) -}}
{{- end -}}

{{/*
RBAC rules for one scope ("rules": namespaced, "clusterRules": cluster-scoped):
the union of the permissions.yaml entries that are on (the probes when
probes.kubernetes, each action whose actions.kubernetes value is true), one rule
per API group and resource with its verbs sorted. Output: a JSON list.
*/}}
{{- define "honua-bot.rbacRules" -}}
{{- $ctx := .ctx -}}
{{- $scope := .scope -}}
{{- $perms := $ctx.Files.Get "permissions.yaml" | fromYaml -}}
{{- $entries := list -}}
{{- if $ctx.Values.probes.kubernetes -}}
{{- $entries = concat $entries $perms.probes -}}
{{- end -}}
{{- range $perms.actions -}}
{{- if not (hasKey $ctx.Values.actions.kubernetes .value) -}}
{{- fail (printf "permissions.yaml: action %s names value %q, which values.yaml does not have under actions.kubernetes" .name .value) -}}
{{- end -}}
{{- if get $ctx.Values.actions.kubernetes .value -}}
{{- $entries = append $entries . -}}
{{- end -}}
{{- end -}}
{{- $verbs := dict -}}
{{- range $entries -}}
{{- range (get . $scope | default (list)) -}}
{{- $group := .apiGroup -}}
{{- $add := .verbs -}}
{{- range .resources -}}
{{- $key := printf "%s %s" $group . -}}
{{- $_ := set $verbs $key (concat (get $verbs $key | default (list)) $add) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $rules := list -}}
{{- range $key := keys $verbs | sortAlpha -}}
{{- $parts := splitList " " $key -}}
{{- $rules = append $rules (dict "apiGroups" (list (index $parts 0)) "resources" (list (index $parts 1)) "verbs" (get $verbs $key | uniq | sortAlpha)) -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}

{{/* The mounted rules: an existing ConfigMap, the chart's, or none (the image's). */}}
{{- define "honua-bot.rulesConfigMap" -}}
{{- if .Values.rules.existingConfigMap -}}
{{- .Values.rules.existingConfigMap -}}
{{- else if or .Values.rules.bundled .Values.rules.files -}}
{{- printf "%s-rules" (include "honua-bot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The bot's settings file: .Values.config, with shutdown_grace_seconds fitted
into the pod's termination grace period. After SIGTERM the pod spends
preStopSleepSeconds in the preStop hook, then the bot drains in-flight work for
shutdown_grace_seconds and closes its sockets (up to 5 s); 10 s are kept for
that and as margin, so the kubelet never kills a bot that is still draining.
*/}}
{{- define "honua-bot.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $budget := sub (sub (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds)) 10 -}}
{{- if lt $budget 0 -}}
{{- fail (printf "terminationGracePeriodSeconds: %v is too short; it must be at least preStopSleepSeconds + 10 (%v) so the bot can drain after SIGTERM" .Values.terminationGracePeriodSeconds (add .Values.preStopSleepSeconds 10)) -}}
{{- end -}}
{{- if hasKey $config "shutdown_grace_seconds" -}}
{{- if gt (float64 $config.shutdown_grace_seconds) (float64 $budget) -}}
{{- fail (printf "config.shutdown_grace_seconds: %v does not fit the pod's termination grace period; at most terminationGracePeriodSeconds - preStopSleepSeconds - 10 = %v" $config.shutdown_grace_seconds $budget) -}}
{{- end -}}
{{- else -}}
{{- $_ := set $config "shutdown_grace_seconds" $budget -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
