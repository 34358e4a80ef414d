{{/* Names, labels and the values every template shares. */}}

{{- define "envless.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release name, with the chart name appended unless it already contains it. */}}
{{- define "envless.fullname" -}}
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

{{- define "envless.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "envless.selectorLabels" -}}
app.kubernetes.io/name: {{ include "envless.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "envless.labels" -}}
helm.sh/chart: {{ include "envless.chart" . }}
{{ include "envless.selectorLabels" . }}
app.kubernetes.io/version: {{ include "envless.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: envless
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "envless.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "envless.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "envless.imageTag" .) -}}
{{- end -}}

{{- define "envless.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "envless.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "envless.configurationName" -}}
{{- default (include "envless.fullname" .) .Values.webhook.configurationName -}}
{{- end -}}

{{/* The Service the API server calls (also the name in the serving certificate). */}}
{{- define "envless.serviceName" -}}
{{- include "envless.fullname" . -}}
{{- end -}}

{{/* True (non-empty) when the webhook runs outside the cluster: no workload objects. */}}
{{- define "envless.urlMode" -}}
{{- if .Values.webhook.url -}}true{{- end -}}
{{- end -}}

{{- define "envless.selfManaged" -}}
{{- if eq .Values.certs.mode "self-managed" -}}true{{- end -}}
{{- end -}}

{{- define "envless.certSecretName" -}}
{{- default (printf "%s-certs" (include "envless.fullname" .)) .Values.certs.selfManaged.secretName -}}
{{- end -}}

{{- define "envless.leaseName" -}}
{{- printf "%s-leader" (include "envless.certSecretName" .) -}}
{{- end -}}

{{/* The Secret mounted as the serving certificate (cert-manager and existing-secret modes). */}}
{{- define "envless.tlsSecretName" -}}
{{- if eq .Values.certs.mode "cert-manager" -}}
{{- printf "%s-tls" (include "envless.fullname" .) -}}
{{- else if eq .Values.certs.mode "existing-secret" -}}
{{- required "certs.existingSecret.name is required when certs.mode is existing-secret" .Values.certs.existingSecret.name -}}
{{- end -}}
{{- end -}}

{{- define "envless.servingCertificateName" -}}
{{- printf "%s-serving" (include "envless.fullname" .) -}}
{{- end -}}

{{/* The DNS names the API server may use for the Service. */}}
{{- define "envless.serviceDnsNames" -}}
{{- $svc := include "envless.serviceName" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}

{{/*
CEL: does container `c` take a value from a Secret (or, when examineLiteralValues, hold a
literal value)? Mirrors matchConditions() in src/k8s/webhook-configuration.ts character for
character; test/chart/template.test.ts compares the two.
*/}}
{{- define "envless.containerCondition" -}}
{{- $envEntry := "has(e.valueFrom) && has(e.valueFrom.secretKeyRef)" -}}
{{- if .Values.webhook.matchConditions.examineLiteralValues -}}
{{- $envEntry = "has(e.value) || (has(e.valueFrom) && has(e.valueFrom.secretKeyRef))" -}}
{{- end -}}
{{- printf "(has(c.env) && c.env.exists(e, %s)) || (has(c.envFrom) && c.envFrom.exists(f, has(f.secretRef)))" $envEntry -}}
{{- end -}}

{{- define "envless.envCondition" -}}
{{- $perContainer := include "envless.containerCondition" . -}}
{{- $parts := list -}}
{{- range list "containers" "initContainers" "ephemeralContainers" -}}
{{- $parts = append $parts (printf "(has(object.spec.%s) && object.spec.%s.exists(c, %s))" . . $perContainer) -}}
{{- end -}}
{{- printf "has(object.spec) && (%s)" (join " || " $parts) -}}
{{- end -}}

{{/* The webhook's flags, shared by the Deployment and the url-mode command in NOTES.txt. */}}
{{- define "envless.webhookArgs" -}}
{{- $args := list "--mode" .Values.webhook.mode "--on-error" .Values.webhook.onError "--mount-root" .Values.webhook.mountRoot "--log-level" .Values.webhook.logLevel -}}
{{- if include "envless.selfManaged" . -}}
{{- $args = concat $args (list "--cert-secret" (include "envless.certSecretName" .) "--cert-namespace" .Release.Namespace "--webhook-config" (include "envless.configurationName" .) "--service" (include "envless.serviceName" .)) -}}
{{- with .Values.certs.extraSANs -}}
{{- $args = concat $args (list "--cert-extra-sans" (join "," .)) -}}
{{- end -}}
{{- with .Values.certs.selfManaged -}}
{{- $args = concat $args (list "--cert-lifetime" .lifetime "--cert-ca-lifetime" .caLifetime "--cert-renew-fraction" (toString .renewFraction) "--cert-reconcile-interval" .reconcileInterval "--cert-trust-delay" .trustDelay) -}}
{{- if not .lease -}}
{{- $args = concat $args (list "--cert-lease" "none") -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $args = concat $args (list "--tls-cert-file" "/tls/tls.crt" "--tls-key-file" "/tls/tls.key") -}}
{{- end -}}
{{- $args = concat $args .Values.webhook.extraArgs -}}
{{- toJson $args -}}
{{- end -}}

{{/* Fails the render for combinations the schema cannot express. */}}
{{- define "envless.validate" -}}
{{- $shutdown := add .Values.webhook.shutdownDelaySeconds .Values.webhook.shutdownTimeoutSeconds -}}
{{- if ge (int $shutdown) (int .Values.terminationGracePeriodSeconds) -}}
{{- fail (printf "webhook.shutdownDelaySeconds + webhook.shutdownTimeoutSeconds (%d) must be less than terminationGracePeriodSeconds (%d), or the pod is killed mid-request" (int $shutdown) (int .Values.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- end -}}
