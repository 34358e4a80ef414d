#!/usr/bin/env bash
# End-to-end check of envless in a real kind cluster, for your own CI (workflow.yml beside this
# file runs it on GitHub Actions). It builds the image from the project's Dockerfile, loads it into
# a new kind cluster, installs charts/envless with it, and checks what users rely on:
#   1. a pod with secretKeyRef / envFrom.secretRef is converted to files, and reads the file;
#   2. opting out works: a namespace labelled envless.dev/inject=false, a pod annotated
#      envless.dev/inject: "false";
#   3. warn mode admits a literal secret with a warning; enforce mode (helm upgrade) denies it;
#   4. helm uninstall leaves no webhook configuration behind.
# Then it deletes the cluster (KEEP_CLUSTER=1 keeps it for debugging). It uses a kubeconfig of its
# own: your current kubectl context is neither used nor changed.
#
# Needs docker, kind, kubectl and helm on PATH, and a registry for kind's node image and busybox
# (it cannot run in envless's own sandbox, which reaches no container registry).
#
#   KIND_CLUSTER_NAME  cluster to create (default envless-e2e); it must not exist yet
#   KIND_NODE_IMAGE    node image (default: kind's own default)
#   TEST_IMAGE         image for the test pods (default busybox:1.36)
#   DOCKER_BUILD_ARGS  more `docker build` arguments, e.g. "--build-arg RUNTIME_IMAGE=..."
#   KEEP_CLUSTER=1     do not delete the cluster at the end
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cluster="${KIND_CLUSTER_NAME:-envless-e2e}"
test_image="${TEST_IMAGE:-busybox:1.36}"
release=envless
system_ns=envless-system
app_ns=envless-e2e-app
optout_ns=envless-e2e-optout
image_repo=envless
image_tag=e2e
wait_timeout=180s

passed=0
failed=0
log() { printf '\n== %s\n' "$*"; }
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { # <description> <command...>: one assertion, counted, never aborting the run
  local description="$1"
  shift
  if "$@"; then pass "$description"; else fail "$description"; fi
}
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH"
done
kind get clusters 2>/dev/null | grep -qx "$cluster" && die "kind cluster $cluster exists already: delete it or set KIND_CLUSTER_NAME"

diagnostics() {
  log "diagnostics"
  kubectl get pods -A -o wide || true
  kubectl -n "$system_ns" describe pods -l "app.kubernetes.io/instance=$release" || true
  kubectl -n "$system_ns" logs -l "app.kubernetes.io/instance=$release" --tail=100 --prefix || true
  kubectl get mutatingwebhookconfigurations -o yaml || true
}
cleanup() {
  local status=$?
  if ((status != 0 || failed > 0)); then diagnostics; fi
  if [[ "${KEEP_CLUSTER:-}" == 1 ]]; then
    log "keeping cluster $cluster (KUBECONFIG=$KUBECONFIG; kind delete cluster --name $cluster)"
  else
    log "deleting cluster $cluster"
    kind delete cluster --name "$cluster" || true
    rm -rf "$kubeconfig_dir"
  fi
}

log "kind cluster $cluster"
# A kubeconfig of its own (kind writes the context into $KUBECONFIG): every kubectl and helm
# command below talks to this cluster and nothing else, whatever the caller's current context is.
kubeconfig_dir="$(mktemp -d "${TMPDIR:-/tmp}/envless-e2e.XXXXXX")"
export KUBECONFIG="$kubeconfig_dir/kubeconfig"
# Armed before the create: a create that fails after making the node container (the --wait
# timeout) leaves a cluster behind. The name was checked free above, so this deletes only ours.
trap cleanup EXIT
kind create cluster --name "$cluster" --wait 180s ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
kubectl config use-context "kind-$cluster" >/dev/null

log "image $image_repo:$image_tag from the Dockerfile"
# shellcheck disable=SC2086 # DOCKER_BUILD_ARGS is a list of words on purpose
docker build ${DOCKER_BUILD_ARGS:-} -t "$image_repo:$image_tag" "$repo_root"
kind load docker-image "$image_repo:$image_tag" --name "$cluster"

log "helm install $release (charts/envless)"
# failurePolicy Fail: a webhook that does not answer makes the checks fail instead of letting pods
# through unconverted.
helm install "$release" "$repo_root/charts/envless" --namespace "$system_ns" --create-namespace \
  --set "image.repository=$image_repo,image.tag=$image_tag,image.pullPolicy=Never" \
  --set webhook.failurePolicy=Fail \
  --wait --timeout "$wait_timeout"
deployment="$(kubectl -n "$system_ns" get deployment -l "app.kubernetes.io/instance=$release" -o jsonpath='{.items[0].metadata.name}')"
kubectl -n "$system_ns" rollout status "deployment/$deployment" --timeout "$wait_timeout"
webhook_config="$(kubectl get mutatingwebhookconfigurations -l "app.kubernetes.io/instance=$release" -o jsonpath='{.items[0].metadata.name}')"
[[ -n "$webhook_config" ]] || die "no MutatingWebhookConfiguration labelled app.kubernetes.io/instance=$release"

# Test data. The values are generated here and never printed.
kubectl create namespace "$app_ns"
kubectl create namespace "$optout_ns"
kubectl label namespace "$optout_ns" envless.dev/inject=false
db_password="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
api_key="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
for ns in "$app_ns" "$optout_ns"; do
  kubectl -n "$ns" create secret generic db --from-literal="password=$db_password" >/dev/null
  kubectl -n "$ns" create secret generic api-keys --from-literal="API_KEY=$api_key" >/dev/null
done

pod_manifest() { # <name> [annotations as a flow mapping]: a pod taking both Secrets as env vars
  local annotations='{}'
  [[ -z "${2:-}" ]] || annotations="$2"
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  annotations: $annotations
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: app
      image: $test_image
      command: [sh, -c, 'sleep 3600']
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
      envFrom:
        - secretRef: {name: api-keys}
EOF
}
env_names() { kubectl -n "$1" get pod "$2" -o jsonpath='{.spec.containers[0].env[*].name}'; }
env_value() { kubectl -n "$1" get pod "$2" -o jsonpath="{.spec.containers[0].env[?(@.name==\"$3\")].value}"; }
secret_refs() {
  kubectl -n "$1" get pod "$2" -o jsonpath='{.spec.containers[0].env[*].valueFrom.secretKeyRef.name}{.spec.containers[0].envFrom[*].secretRef.name}'
}

log "wait until the API server trusts the webhook (self-managed certificate, caBundle patched)"
# A server-side dry run goes through the webhook like a real create and leaves nothing behind.
# The converted env: the secretKeyRef as DB_PASSWORD_FILE, the envFrom Secret as a directory.
converted_env="DB_PASSWORD_FILE ENVLESS_SECRETS_DIR_API_KEYS"
converted_dry_run=""
for _ in $(seq 1 60); do
  converted_dry_run="$(pod_manifest probe | kubectl -n "$app_ns" create --dry-run=server -f - \
    -o jsonpath='{.spec.containers[0].env[*].name}' 2>/dev/null || true)"
  [[ "$converted_dry_run" == "$converted_env" ]] && break
  sleep 2
done
check "the webhook answers: a server-side dry run is converted ($converted_dry_run)" \
  test "$converted_dry_run" == "$converted_env"

log "1. a pod in $app_ns is converted"
pod_manifest converted | kubectl -n "$app_ns" apply -f -
check "secretKeyRef became DB_PASSWORD_FILE (env names: $(env_names "$app_ns" converted))" \
  test "$(env_names "$app_ns" converted)" == "$converted_env"
check "DB_PASSWORD_FILE is /run/secrets/envless/db/password" \
  test "$(env_value "$app_ns" converted DB_PASSWORD_FILE)" == /run/secrets/envless/db/password
check "no secretKeyRef or envFrom.secretRef is left" test -z "$(secret_refs "$app_ns" converted)"
kubectl -n "$app_ns" wait --for=condition=Ready pod/converted --timeout "$wait_timeout"
file_matches() { [[ "$(kubectl -n "$app_ns" exec converted -- sh -c "$1")" == "$2" ]]; }
# shellcheck disable=SC2016 # the variables are expanded by the container's shell
check "the container reads the password from its file" file_matches 'cat "$DB_PASSWORD_FILE"' "$db_password"
# shellcheck disable=SC2016
check "the container reads API_KEY from the envFrom directory" \
  file_matches 'cat "$ENVLESS_SECRETS_DIR_API_KEYS/API_KEY"' "$api_key"
check "the container has no DB_PASSWORD or API_KEY variable" \
  file_matches 'env | grep -c -E "^(DB_PASSWORD|API_KEY)=" || true' 0

log "2. opting out"
pod_manifest labelled-namespace | kubectl -n "$optout_ns" apply -f -
check "a namespace labelled envless.dev/inject=false is left alone" \
  test "$(env_names "$optout_ns" labelled-namespace)" == DB_PASSWORD
pod_manifest annotated '{"envless.dev/inject": "false"}' | kubectl -n "$app_ns" apply -f -
check "a pod annotated envless.dev/inject: \"false\" is left alone" \
  test "$(env_names "$app_ns" annotated)" == DB_PASSWORD

literal_pod() { # a pod that writes a secret literally into env
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: literal
spec:
  containers:
    - name: app
      image: $test_image
      command: [sh, -c, 'sleep 3600']
      env:
        - name: DB_PASSWORD
          value: "$db_password"
EOF
}

log "3. warn mode admits a literal secret with a warning; enforce mode denies it"
warn_output="$(literal_pod | kubectl -n "$app_ns" create --dry-run=server -f - 2>&1)" && admitted=1 || admitted=0
check "warn mode admits the pod" test "$admitted" == 1
check "warn mode warns about DB_PASSWORD" grep -q 'Warning:.*DB_PASSWORD' <<<"$warn_output"
check "the warning does not contain the value" test "${warn_output/$db_password/}" == "$warn_output"

helm upgrade "$release" "$repo_root/charts/envless" --namespace "$system_ns" --reuse-values \
  --set webhook.mode=enforce --wait --timeout "$wait_timeout"
kubectl -n "$system_ns" rollout status "deployment/$deployment" --timeout "$wait_timeout"
# Old pods may answer for a moment while they drain: retry until the new mode is seen.
denied=0
for _ in $(seq 1 30); do
  if ! deny_output="$(literal_pod | kubectl -n "$app_ns" create --dry-run=server -f - 2>&1)"; then
    denied=1
    break
  fi
  sleep 2
done
check "enforce mode denies the pod" test "$denied" == 1
check "the denial comes from envless and names DB_PASSWORD" grep -q 'denied the request.*DB_PASSWORD' <<<"${deny_output:-}"
pod_manifest converted-enforce | kubectl -n "$app_ns" apply -f -
check "enforce mode still converts secretKeyRef" \
  test "$(env_names "$app_ns" converted-enforce)" == "$converted_env"

log "4. helm uninstall"
helm uninstall "$release" --namespace "$system_ns" --wait --timeout "$wait_timeout"
check "no MutatingWebhookConfiguration is left" \
  test -z "$(kubectl get mutatingwebhookconfigurations -l "app.kubernetes.io/instance=$release" -o name)"

printf '\ne2e: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
