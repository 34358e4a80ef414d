{{/* Names, labels and the values every template shares. */}}

{{- define "envless.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release name, with the chart name appended unless it already contains it. It names the
Service, which must be a DNS label: Helm allows dots in release names (`my.app`), so they become
hyphens here.
*/}}
{{- define "envless.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- $release := .Release.Name | replace "." "-" -}}
{{- if contains $name $release -}}
{{- $release | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" $release $name | trunc 63 | trimSuffix "-" -}}
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
{{- include "envless.labelsWith" (list . dict) -}}
{{- end -}}

{{/*
The chart's labels plus commonLabels plus `extra` (a dict; it wins over commonLabels), as a YAML
map with each key once: a key written twice is invalid YAML that strict parsers (kustomize, yq,
kubeconform) refuse, and Helm and kubectl silently keep the last value. commonLabels may replace
`app.kubernetes.io/part-of`; a different value for a label the chart sets itself fails the render:
the Service and ServiceMonitor select by the selector labels, and Helm adopts objects by
`app.kubernetes.io/managed-by`.
*/}}
{{- define "envless.labelsWith" -}}
{{- $root := index . 0 -}}
{{- $added := merge (deepCopy (index . 1)) (deepCopy ($root.Values.commonLabels | default dict)) -}}
{{- $own := include "envless.selectorLabels" $root | fromYaml -}}
{{- $_ := set $own "helm.sh/chart" (include "envless.chart" $root) -}}
{{- $_ := set $own "app.kubernetes.io/version" (include "envless.versionLabel" $root) -}}
{{- $_ := set $own "app.kubernetes.io/managed-by" $root.Release.Service -}}
{{- range $key := keys $own | sortAlpha -}}
{{- if and (hasKey $added $key) (ne (toString (get $added $key)) (toString (get $own $key))) -}}
{{- fail (printf "commonLabels or metrics.serviceMonitor.labels set %q to %q, but the chart sets it to %q (the Service and ServiceMonitor select by the app.kubernetes.io labels, Helm adopts objects by managed-by): leave it out (nameOverride changes the name)" $key (toString (get $added $key)) (toString (get $own $key))) -}}
{{- end -}}
{{- end -}}
helm.sh/chart: {{ include "envless.chart" $root }}
{{ include "envless.selectorLabels" $root }}
app.kubernetes.io/version: {{ include "envless.versionLabel" $root | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- if not (hasKey $added "app.kubernetes.io/part-of") }}
app.kubernetes.io/part-of: envless
{{- end }}
{{- with omit $added "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "envless.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* `repository:tag`, or `repository:tag@digest` when image.digest pins the content. */}}
{{- define "envless.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "envless.imageTag" .) -}}
{{- with .Values.image.digest -}}@{{ . }}{{- end -}}
{{- end -}}

{{/*
The tag as a label value (at most 63 characters, alphanumeric at both ends): an image tag may be
128 characters long and start with `_`.
*/}}
{{- define "envless.versionLabel" -}}
{{- regexReplaceAll "^[-_.]+|[-_.]+$" (include "envless.imageTag" . | trunc 63) "" -}}
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
{{- /*
Container args must be strings, and `--set webhook.extraArgs={--max-body-bytes,8388608}` gives a
number: an integer from --set, a float64 from a values file, which toString would print as
8.388608e+06.
*/ -}}
{{- range .Values.webhook.extraArgs -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- $args = append $args (printf "%.0f" .) -}}
{{- else -}}
{{- $args = append $args (toString .) -}}
{{- end -}}
{{- end -}}
{{- toJson $args -}}
{{- end -}}

{{/* Seconds in an envless duration ("90", "500ms", "20s", "5m", "24h", "3650d"), as parseDuration in src/k8s/certs/settings.ts. */}}
{{- define "envless.seconds" -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" (toString .) -}}
{{- $unit := trimPrefix $number (toString .) | default "s" -}}
{{- mulf (float64 $number) (get (dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0) $unit) -}}
{{- end -}}

{{/* The renewal fraction ("0.1", 0.1 or "10%"), as parseFraction in src/k8s/certs/settings.ts. */}}
{{- define "envless.fraction" -}}
{{- $text := toString . -}}
{{- if hasSuffix "%" $text -}}
{{- divf (float64 (trimSuffix "%" $text)) 100.0 -}}
{{- else -}}
{{- float64 $text -}}
{{- end -}}
{{- end -}}

{{/*
Fails the render for combinations the schema cannot express, and for values `envless webhook`
would refuse at start-up (src/webhook/config.ts, src/k8s/certs/settings.ts): a pod that exits 2
in a crash loop is a worse place to learn it than `helm install`.
*/}}
{{- define "envless.validate" -}}
{{- $shutdown := add .Values.webhook.shutdownDelaySeconds .Values.webhook.shutdownTimeoutSeconds -}}
{{- if ge (int $shutdown) (int .Values.terminationGracePeriodSeconds) -}}
{{- fail (printf "webhook.shutdownDelaySeconds + webhook.shutdownTimeoutSeconds (%d) must be less than terminationGracePeriodSeconds (%d), or the pod is killed mid-request" (int $shutdown) (int .Values.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- if eq (int .Values.metrics.port) (int .Values.webhook.port) -}}
{{- fail (printf "metrics.port and webhook.port are both %d: the webhook and its metrics need ports of their own" (int .Values.webhook.port)) -}}
{{- end -}}
{{- if eq (int .Values.metrics.port) (int .Values.service.port) -}}
{{- fail (printf "metrics.port and service.port are both %d: the Service exposes both, on different ports" (int .Values.service.port)) -}}
{{- end -}}
{{- if and .Values.hostNetwork (not (include "envless.urlMode" .)) -}}
{{- if .Values.networkPolicy.enabled -}}
{{- fail "networkPolicy.enabled and hostNetwork cannot be combined: a NetworkPolicy does not apply to pods on the host network, so it would protect nothing. Set networkPolicy.enabled=false and restrict webhook.port and metrics.port on the nodes instead (security groups, firewall rules)" -}}
{{- end -}}
{{- range $name, $port := dict "webhook.port" .Values.webhook.port "metrics.port" .Values.metrics.port -}}
{{- if lt (int $port) 1024 -}}
{{- fail (printf "%s is %d: with hostNetwork the webhook (non-root, no capabilities) listens on the node, where ports below 1024 are privileged; choose a port from 1024 up that is free on every node" $name (int $port)) -}}
{{- else if eq (int $port) 10250 -}}
{{- fail (printf "%s is 10250, the kubelet's port on every node: with hostNetwork choose a port that is free on every node" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /*
A budget that allows no eviction at all (minAvailable of every replica, maxUnavailable 0) makes
every node drain and cluster upgrade wait forever on a healthy replica. Kubernetes rounds
percentages up for both fields.
*/ -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- if and $pdb.enabled (not (include "envless.urlMode" .)) -}}
{{- $replicas := int .Values.replicaCount -}}
{{- $fixed := "" -}}
{{- $value := "" -}}
{{- $down := 1 -}}
{{- if not (kindIs "invalid" $pdb.minAvailable) -}}
{{- $fixed = "minAvailable" -}}
{{- $value = toString $pdb.minAvailable -}}
{{- $up := int $pdb.minAvailable -}}
{{- if hasSuffix "%" $value -}}
{{- $up = int (ceil (divf (mul (int (trimSuffix "%" $value)) $replicas) 100.0)) -}}
{{- end -}}
{{- $down = sub $replicas $up -}}
{{- else -}}
{{- $fixed = "maxUnavailable" -}}
{{- $value = toString $pdb.maxUnavailable -}}
{{- $down = int $pdb.maxUnavailable -}}
{{- if hasSuffix "%" $value -}}
{{- $down = int (ceil (divf (mul (int (trimSuffix "%" $value)) $replicas) 100.0)) -}}
{{- end -}}
{{- end -}}
{{- if le (int $down) 0 -}}
{{- fail (printf "podDisruptionBudget.%s %s with replicaCount %d lets no webhook pod be evicted: every node drain and cluster upgrade would wait forever. Raise replicaCount, set podDisruptionBudget.maxUnavailable (1 by default), or podDisruptionBudget.enabled=false" $fixed $value $replicas) -}}
{{- end -}}
{{- end -}}
{{- /* mountRootProblem() in src/engine/names.ts; the schema already requires a leading "/". */ -}}
{{- $root := .Values.webhook.mountRoot -}}
{{- $clean := regexReplaceAll "/+$" (regexReplaceAll "/(\\./)+" (regexReplaceAll "/+" $root "/") "/") "" -}}
{{- if has ".." (splitList "/" $root) -}}
{{- fail (printf "webhook.mountRoot must not contain \"..\" (got %q)" $root) -}}
{{- else if or (eq $clean "") (eq $clean "/.") -}}
{{- fail (printf "webhook.mountRoot must not be \"/\" (got %q)" $root) -}}
{{- else if contains "$" $root -}}
{{- fail (printf "webhook.mountRoot must not contain \"$\": the kubelet expands $(NAME) in the X_FILE values (got %q)" $root) -}}
{{- else if regexMatch "^/(proc|sys|dev)(/|$)" $clean -}}
{{- fail (printf "webhook.mountRoot must not be under /proc, /sys or /dev (got %q)" $root) -}}
{{- end -}}
{{- if include "envless.selfManaged" . -}}
{{- $c := .Values.certs.selfManaged -}}
{{- $lifetime := include "envless.seconds" $c.lifetime | float64 -}}
{{- $caLifetime := include "envless.seconds" $c.caLifetime | float64 -}}
{{- $interval := include "envless.seconds" $c.reconcileInterval | float64 -}}
{{- $trustDelay := include "envless.seconds" $c.trustDelay | float64 -}}
{{- $window := mulf (include "envless.fraction" $c.renewFraction | float64) $lifetime -}}
{{- /* X.509 dates end in 9999; a Node timer longer than ~24.8 days fires at once. */ -}}
{{- $maxLifetime := 3153600000.0 -}}
{{- $maxInterval := 86400.0 -}}
{{- if or (lt $lifetime 10.0) (gt $lifetime $maxLifetime) -}}
{{- fail (printf "certs.selfManaged.lifetime must be at least 10s and at most 36500d (got %q)" (toString $c.lifetime)) -}}
{{- else if or (lt $caLifetime 60.0) (gt $caLifetime $maxLifetime) -}}
{{- fail (printf "certs.selfManaged.caLifetime must be at least 60s and at most 36500d (got %q)" (toString $c.caLifetime)) -}}
{{- else if gt $trustDelay $maxInterval -}}
{{- fail (printf "certs.selfManaged.trustDelay must be at most 1d (got %q)" (toString $c.trustDelay)) -}}
{{- else if gt $interval $maxInterval -}}
{{- fail (printf "certs.selfManaged.reconcileInterval must be at most 1d (got %q)" (toString $c.reconcileInterval)) -}}
{{- else if le $caLifetime $lifetime -}}
{{- fail (printf "certs.selfManaged.caLifetime (%s) must be longer than certs.selfManaged.lifetime (%s)" (toString $c.caLifetime) (toString $c.lifetime)) -}}
{{- else if lt $interval 1.0 -}}
{{- fail (printf "certs.selfManaged.reconcileInterval must be at least 1s (got %q)" (toString $c.reconcileInterval)) -}}
{{- else if lt $window (mulf 2.0 $interval) -}}
{{- fail (printf "the renewal window (certs.selfManaged.renewFraction x lifetime = %.0fs) must be at least twice certs.selfManaged.reconcileInterval (%.0fs), or replicas may miss a renewal: envless webhook refuses to start" $window $interval) -}}
{{- /* checkTrustDelay() in src/k8s/certs/settings.ts: the chart always passes --cert-trust-delay. */ -}}
{{- else if lt (mulf 0.1 $caLifetime) (addf $trustDelay (mulf 2.0 $interval)) -}}
{{- fail (printf "the CA is replaced when 10%% of certs.selfManaged.caLifetime remains (%.0fs): that must hold certs.selfManaged.trustDelay (%.0fs) plus twice certs.selfManaged.reconcileInterval (%.0fs), or the old CA expires while the certificate it signed is still served: envless webhook refuses to start" (mulf 0.1 $caLifetime) $trustDelay $interval) -}}
{{- else if lt $window (addf $trustDelay (mulf 2.0 $interval)) -}}
{{- fail (printf "the renewal window (certs.selfManaged.renewFraction x lifetime = %.0fs) must hold certs.selfManaged.trustDelay (%.0fs) plus twice certs.selfManaged.reconcileInterval (%.0fs): during a CA change the serving certificate is renewed only after the trust delay: envless webhook refuses to start" $window $trustDelay $interval) -}}
{{- end -}}
{{- end -}}
{{- end -}}
