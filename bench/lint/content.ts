// Builders for the corpus files. Each builder is a pure function of the PRNG and a few options and
// returns the text plus what was planted in it. `scale` grows a file from a few hundred bytes to
// tens of KB by repeating the parts that grow in real projects (build steps, services, documents).
import { anySecret, privateKeyPem, providerSecret, randomPassword, type FakeSecret } from './fake-secrets.ts';
import type { Rng } from './prng.ts';
import { APT_PACKAGES, BACKING_SERVICES, BENIGN_ENV, REFERENCED_SECRET_NAMES, SERVICES } from './vocab.ts';

export interface Built {
  readonly text: string;
  /** Secret values written into the file (provider ids), empty when none. */
  readonly planted: string[];
}

export interface BuildOptions {
  readonly scale: number;
  readonly plant: boolean;
  readonly service: string;
  readonly repo: string;
}

const yamlQuote = (value: string): string => JSON.stringify(value);

function benign(rng: Rng, count: number): (readonly [string, string])[] {
  return rng.sample(BENIGN_ENV, count);
}

// ---------------------------------------------------------------- Dockerfile

type Language = 'node' | 'python' | 'go' | 'static';

function installStep(rng: Rng, continuation: string, extra: number): string[] {
  const packages = rng.sample(APT_PACKAGES, rng.int(3, 6 + extra));
  return [
    `RUN apt-get update ${continuation}`,
    ` && apt-get install -y --no-install-recommends ${continuation}`,
    ...packages.map((name) => `      ${name} ${continuation}`),
    ' && rm -rf /var/lib/apt/lists/*',
  ];
}

function buildStage(rng: Rng, language: Language, continuation: string, scale: number): string[] {
  const lines: string[] = [];
  switch (language) {
    case 'node':
      lines.push(
        'ARG NODE_VERSION=' + rng.pick(['20', '22', '24']),
        'FROM node:${NODE_VERSION}-bookworm-slim AS deps',
        'WORKDIR /app',
      );
      lines.push('COPY package.json package-lock.json ./', 'RUN --mount=type=cache,target=/root/.npm npm ci');
      lines.push('', 'FROM deps AS build', 'COPY . .', 'RUN npm run build && npm prune --omit=dev');
      break;
    case 'python':
      lines.push(
        'FROM python:' + rng.pick(['3.11', '3.12', '3.13']) + '-slim AS build',
        'ENV PIP_NO_CACHE_DIR=1 \\',
        '    PYTHONDONTWRITEBYTECODE=1',
        'WORKDIR /src',
      );
      lines.push(...installStep(rng, continuation, scale));
      lines.push(
        'COPY requirements.txt .',
        'RUN --mount=type=cache,target=/root/.cache/pip pip wheel --wheel-dir /wheels -r requirements.txt',
      );
      break;
    case 'go':
      lines.push(
        'FROM golang:' + rng.pick(['1.22', '1.23', '1.24']) + ' AS build',
        'WORKDIR /src',
        'ENV CGO_ENABLED=0 GOOS=linux',
      );
      lines.push(
        'COPY go.mod go.sum ./',
        'RUN --mount=type=cache,target=/go/pkg/mod go mod download',
        'COPY . .',
      );
      lines.push(
        'RUN --mount=type=cache,target=/root/.cache/go-build go build -trimpath -ldflags="-s -w" -o /out/app ./cmd/app',
      );
      break;
    case 'static':
      lines.push('FROM node:22-alpine AS build', 'WORKDIR /site', 'COPY . .', 'RUN npm ci && npm run build');
      break;
  }
  // Big Dockerfiles grow by build steps: tool downloads, code generation, tests.
  for (let i = 1; i < scale; i++) {
    lines.push(
      '',
      `# step ${i}: ${rng.pick(['fetch tools', 'generate code', 'run unit tests', 'compile assets', 'vendor dependencies'])}`,
    );
    if (rng.chance(0.5)) lines.push(...installStep(rng, continuation, scale));
    lines.push(
      `RUN ${rng.pick(['make', 'npm run', 'task', './scripts/ci.sh'])} ${rng.pick(['lint', 'test', 'generate', 'assets', 'check'])}-${i} ${continuation}`,
      `    && echo "done ${i}"`,
    );
  }
  return lines;
}

function runtimeStage(
  rng: Rng,
  language: Language,
  continuation: string,
  service: string,
  repo: string,
): string[] {
  const base = {
    node: 'gcr.io/distroless/nodejs22-debian12',
    python: 'python:3.12-slim',
    go: 'gcr.io/distroless/static-debian12:nonroot',
    static: 'nginx:1.27-alpine',
  }[language];
  const lines = ['', `FROM ${base} AS runtime`];
  const env = benign(rng, rng.int(2, 6));
  if (rng.chance(0.5)) {
    lines.push(
      `ENV ${env.map(([k, v]) => `${k}=${/\s/.test(v) ? yamlQuote(v) : v}`).join(` ${continuation}\n    `)}`,
    );
  } else {
    for (const [k, v] of env)
      lines.push(rng.chance(0.2) && !/\s/.test(v) ? `ENV ${k} ${v}` : `ENV ${k}=${yamlQuote(v)}`);
  }
  lines.push(
    `LABEL org.opencontainers.image.source="https://github.com/example/${repo}" ${continuation}`,
    `      org.opencontainers.image.title="${service}" ${continuation}`,
    `      org.opencontainers.image.version="${rng.int(0, 3)}.${rng.int(0, 20)}.${rng.int(0, 9)}"`,
  );
  if (language === 'python')
    lines.push(
      'COPY --from=build /wheels /wheels',
      'RUN pip install --no-index /wheels/*',
      'COPY . /app',
      'WORKDIR /app',
    );
  else if (language === 'go') lines.push('COPY --from=build /out/app /app');
  else if (language === 'node')
    lines.push(
      'WORKDIR /app',
      'COPY --from=build /app/dist ./dist',
      'COPY --from=build /app/node_modules ./node_modules',
    );
  else lines.push('COPY --from=build /site/dist /usr/share/nginx/html');
  lines.push('USER 10001', `EXPOSE ${rng.pick([80, 3000, 8000, 8080])}`);
  lines.push(`HEALTHCHECK --interval=30s --timeout=3s CMD ["/app/healthcheck"]`);
  lines.push(
    language === 'go'
      ? 'ENTRYPOINT ["/app"]'
      : language === 'node'
        ? 'CMD ["dist/server.js"]'
        : language === 'python'
          ? 'CMD ["gunicorn", "app.wsgi", "-b", "0.0.0.0:8000"]'
          : 'CMD ["nginx", "-g", "daemon off;"]',
  );
  return lines;
}

function plantInDockerfile(rng: Rng, lines: string[], secret: FakeSecret): void {
  const at = lines.findIndex((line) => line.startsWith('USER '));
  const where = at === -1 ? lines.length : at;
  const form = rng.int(0, 4);
  const planted =
    form === 0
      ? `ENV ${secret.name}=${secret.value}`
      : form === 1
        ? `ENV ${secret.name} ${secret.value}`
        : form === 2
          ? `ARG ${secret.name}=${yamlQuote(secret.value)}`
          : form === 3
            ? `LABEL com.example.deploy-token="${secret.value}"`
            : `ENV APP_CONFIG='{"endpoint":"https://api.example.com","apiKey":"${secret.value}"}'`;
  lines.splice(where, 0, planted);
}

export function dockerfile(rng: Rng, options: BuildOptions): Built {
  const language: Language = rng.weighted([
    ['node', 4],
    ['python', 3],
    ['go', 3],
    ['static', 1],
  ]);
  const backtick = rng.chance(0.02);
  const continuation = backtick ? '`' : '\\';
  const lines: string[] = [];
  if (backtick) lines.push('# escape=`');
  if (rng.chance(0.4)) lines.push('# syntax=docker/dockerfile:1.7');
  lines.push(`# ${options.service}: ${rng.pick(['multi-stage build', 'production image', 'built in CI'])}`);
  lines.push(...buildStage(rng, language, continuation, options.scale));
  // The BuildKit-recommended way, and one that leaks: both appear in real repositories.
  if (rng.chance(0.15)) lines.push('RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm whoami');
  if (rng.chance(0.05))
    lines.push('ARG NPM_TOKEN', 'RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc');
  lines.push(...runtimeStage(rng, language, continuation, options.service, options.repo));
  const planted: string[] = [];
  if (options.plant) {
    const secret = anySecret(rng);
    plantInDockerfile(rng, lines, secret);
    planted.push(secret.provider);
  }
  return { text: lines.join('\n') + '\n', planted };
}

// ---------------------------------------------------------------- compose

function composeEnvironment(
  rng: Rng,
  indent: string,
  mapForm: boolean,
  extra: (readonly [string, string | undefined])[],
): string[] {
  // `*_FILE` pointers appear only with the secret they need granted (in `extra`); keys stay unique.
  const merged = new Map<string, string | undefined>(
    benign(rng, rng.int(2, 7)).filter(([k]) => !k.endsWith('_FILE')),
  );
  for (const [k, v] of extra) merged.set(k, v);
  const entries = [...merged];
  if (mapForm)
    return entries.map(([k, v]) => (v === undefined ? `${indent}${k}:` : `${indent}${k}: ${yamlQuote(v)}`));
  return entries.map(([k, v]) => (v === undefined ? `${indent}- ${k}` : `${indent}- ${k}=${v}`));
}

export function compose(rng: Rng, options: BuildOptions): Built {
  const lines: string[] = [];
  const useAnchor = rng.chance(0.35);
  if (rng.chance(0.3)) lines.push('# Local development stack. Production runs on Kubernetes (see deploy/).');
  if (useAnchor) {
    lines.push(
      'x-common-env: &common-env',
      '  TZ: UTC',
      '  LOG_FORMAT: json',
      `  OTEL_EXPORTER_OTLP_ENDPOINT: http://otel:4317`,
    );
    lines.push(
      '',
      'x-service: &service-defaults',
      '  restart: unless-stopped',
      '  logging:',
      '    driver: json-file',
      '    options:',
      '      max-size: 10m',
      '',
    );
  }
  lines.push('services:');
  const appCount = Math.min(SERVICES.length, 1 + Math.floor(options.scale * rng.int(1, 3)));
  const apps = rng.sample(SERVICES, appCount);
  const backing = rng.sample(BACKING_SERVICES, rng.int(1, 3));
  const planted: string[] = [];
  const plantAt = options.plant ? rng.int(0, apps.length - 1) : -1;
  const usesSecrets = rng.chance(0.5);
  apps.forEach((app, index) => {
    lines.push(`  ${app}:`);
    if (useAnchor) lines.push('    <<: *service-defaults');
    const buildArgs: string[] = [];
    if (rng.chance(0.6)) {
      lines.push('    build:', `      context: ./services/${app}`);
      if (rng.chance(0.4)) buildArgs.push(`        APP_VERSION: "${rng.int(1, 9)}.${rng.int(0, 30)}.0"`);
      if (rng.chance(0.05)) buildArgs.push('        NPM_TOKEN: ${NPM_TOKEN}');
    } else {
      lines.push(
        `    image: ghcr.io/example/${options.repo}-${app}:${rng.pick(['latest', 'main', `v${rng.int(1, 5)}.${rng.int(0, 9)}`])}`,
      );
    }
    const extra: [string, string | undefined][] = [];
    if (usesSecrets) extra.push(['DB_PASSWORD_FILE', '/run/secrets/db_password']);
    else if (rng.chance(0.25))
      extra.push([
        rng.pick(REFERENCED_SECRET_NAMES),
        rng.chance(0.5) ? `\${${rng.pick(REFERENCED_SECRET_NAMES)}}` : undefined,
      ]);
    let plantedSecret: FakeSecret | undefined;
    if (index === plantAt) {
      plantedSecret = anySecret(rng);
      planted.push(plantedSecret.provider);
    }
    const plantInArgs = plantedSecret !== undefined && buildArgs.length > 0 && rng.chance(0.3);
    if (plantedSecret && plantInArgs)
      buildArgs.push(`        ${plantedSecret.name}: ${yamlQuote(plantedSecret.value)}`);
    else if (plantedSecret) extra.push([plantedSecret.name, plantedSecret.value]);
    if (buildArgs.length > 0) lines.push('      args:', ...buildArgs);
    const mapForm = useAnchor || rng.chance(0.5);
    lines.push('    environment:');
    if (useAnchor) lines.push('      <<: *common-env');
    lines.push(...composeEnvironment(rng, '      ', mapForm, extra));
    if (usesSecrets) lines.push('    secrets:', '      - db_password');
    lines.push(`    ports:`, `      - "${rng.int(3000, 9000)}:${rng.pick([80, 3000, 8080])}"`);
    lines.push('    depends_on:', ...backing.map((b) => `      - ${b.name}`));
    if (rng.chance(0.5))
      lines.push(
        '    healthcheck:',
        `      test: ["CMD", "wget", "-qO-", "http://localhost:8080/healthz"]`,
        '      interval: 10s',
        '      retries: 5',
      );
  });
  for (const b of backing) {
    lines.push(`  ${b.name}:`, `    image: ${b.image}`);
    if (b.name === 'postgres') {
      const devDefault = !usesSecrets && rng.chance(0.3);
      lines.push(
        '    environment:',
        '      POSTGRES_USER: app',
        '      POSTGRES_DB: app',
        devDefault
          ? '      POSTGRES_PASSWORD: postgres'
          : '      POSTGRES_PASSWORD_FILE: /run/secrets/db_password',
      );
      if (!devDefault) lines.push('    secrets:', '      - db_password');
      lines.push('    volumes:', '      - pgdata:/var/lib/postgresql/data');
    } else if (b.name === 'mysql') {
      lines.push(
        '    environment:',
        '      - MYSQL_DATABASE=app',
        '      - MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db_password',
      );
      lines.push('    secrets:', '      - db_password');
    }
    lines.push('    ports:', `      - "${b.port}:${b.port}"`);
  }
  lines.push('', 'secrets:', '  db_password:', '    file: ./secrets/db_password.txt');
  if (backing.some((b) => b.name === 'postgres')) lines.push('', 'volumes:', '  pgdata: {}');
  return { text: lines.join('\n') + '\n', planted };
}

// ---------------------------------------------------------------- Kubernetes

interface EnvPlan {
  readonly secretRef: boolean;
  readonly planted?: FakeSecret;
}

function containerYaml(rng: Rng, indent: string, name: string, repo: string, env: EnvPlan): string[] {
  const lines = [
    `${indent}- name: ${name}`,
    `${indent}  image: ghcr.io/example/${repo}-${name}:${rng.pick(['1.4.2', '2.0.0', 'sha-' + rng.hex(7)])}`,
    `${indent}  imagePullPolicy: IfNotPresent`,
    `${indent}  ports:`,
    `${indent}    - containerPort: ${rng.pick([8080, 3000, 9090])}`,
    `${indent}      name: http`,
    `${indent}  env:`,
  ];
  for (const [k, v] of benign(rng, rng.int(2, 8)))
    lines.push(`${indent}    - name: ${k}`, `${indent}      value: ${yamlQuote(v)}`);
  lines.push(
    `${indent}    - name: POD_NAME`,
    `${indent}      valueFrom:`,
    `${indent}        fieldRef:`,
    `${indent}          fieldPath: metadata.name`,
  );
  if (rng.chance(0.4))
    lines.push(
      `${indent}    - name: FEATURE_FLAGS`,
      `${indent}      valueFrom:`,
      `${indent}        configMapKeyRef:`,
      `${indent}          name: ${repo}-config`,
      `${indent}          key: flags`,
    );
  if (env.secretRef) {
    lines.push(
      `${indent}    - name: ${rng.pick(REFERENCED_SECRET_NAMES)}`,
      `${indent}      valueFrom:`,
      `${indent}        secretKeyRef:`,
      `${indent}          name: ${repo}-credentials`,
      `${indent}          key: ${rng.pick(['password', 'api-key', 'token'])}`,
    );
  }
  if (env.planted)
    lines.push(
      `${indent}    - name: ${env.planted.name}`,
      `${indent}      value: ${yamlQuote(env.planted.value)}`,
    );
  if (rng.chance(0.3))
    lines.push(`${indent}  envFrom:`, `${indent}    - configMapRef:`, `${indent}        name: ${repo}-env`);
  lines.push(
    `${indent}  resources:`,
    `${indent}    requests: { cpu: ${rng.pick(['50m', '100m', '250m'])}, memory: ${rng.pick(['64Mi', '128Mi', '256Mi'])} }`,
    `${indent}    limits: { memory: ${rng.pick(['256Mi', '512Mi', '1Gi'])} }`,
    `${indent}  readinessProbe:`,
    `${indent}    httpGet: { path: /readyz, port: http }`,
    `${indent}  volumeMounts:`,
    `${indent}    - name: credentials`,
    `${indent}      mountPath: /var/run/secrets/app`,
    `${indent}      readOnly: true`,
  );
  return lines;
}

function podSpec(
  rng: Rng,
  indent: string,
  service: string,
  repo: string,
  planted: FakeSecret | undefined,
): string[] {
  const lines = [
    `${indent}serviceAccountName: ${service}`,
    `${indent}securityContext:`,
    `${indent}  runAsNonRoot: true`,
  ];
  if (rng.chance(0.2)) {
    lines.push(
      `${indent}initContainers:`,
      ...containerYaml(rng, `${indent}  `, 'migrate', repo, { secretRef: rng.chance(0.3) }),
    );
  }
  lines.push(`${indent}containers:`);
  const containers = rng.chance(0.15) ? 2 : 1;
  for (let i = 0; i < containers; i++) {
    const name = i === 0 ? service : rng.pick(['sidecar', 'proxy', 'log-shipper']);
    lines.push(
      ...containerYaml(rng, `${indent}  `, name, repo, {
        secretRef: rng.chance(0.2),
        ...(i === 0 && planted ? { planted } : {}),
      }),
    );
  }
  lines.push(
    `${indent}volumes:`,
    `${indent}  - name: credentials`,
    `${indent}    secret:`,
    `${indent}      secretName: ${repo}-credentials`,
  );
  return lines;
}

function metadata(rng: Rng, name: string, repo: string): string[] {
  return [
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${repo}`,
    '  labels:',
    `    app.kubernetes.io/name: ${name}`,
    `    app.kubernetes.io/part-of: ${repo}`,
    `    app.kubernetes.io/version: "${rng.int(1, 4)}.${rng.int(0, 20)}"`,
  ];
}

function workload(rng: Rng, service: string, repo: string, planted: FakeSecret | undefined): string[] {
  const kind = rng.weighted([
    ['Deployment', 6],
    ['StatefulSet', 1],
    ['CronJob', 1.5],
    ['Job', 0.5],
    ['Pod', 0.5],
    ['DaemonSet', 0.3],
  ]);
  if (kind === 'Pod')
    return [
      'apiVersion: v1',
      'kind: Pod',
      ...metadata(rng, service, repo),
      'spec:',
      ...podSpec(rng, '  ', service, repo, planted),
    ];
  if (kind === 'CronJob') {
    return [
      'apiVersion: batch/v1',
      'kind: CronJob',
      ...metadata(rng, `${service}-nightly`, repo),
      'spec:',
      `  schedule: "${rng.int(0, 59)} ${rng.int(0, 23)} * * *"`,
      '  concurrencyPolicy: Forbid',
      '  jobTemplate:',
      '    spec:',
      '      template:',
      '        spec:',
      '          restartPolicy: OnFailure',
      ...podSpec(rng, '          ', service, repo, planted),
    ];
  }
  if (kind === 'Job')
    return [
      'apiVersion: batch/v1',
      'kind: Job',
      ...metadata(rng, `${service}-migrate`, repo),
      'spec:',
      '  backoffLimit: 2',
      '  template:',
      '    spec:',
      '      restartPolicy: Never',
      ...podSpec(rng, '      ', service, repo, planted),
    ];
  const replicas = kind === 'DaemonSet' ? [] : [`  replicas: ${rng.int(1, 6)}`];
  return [
    `apiVersion: apps/v1`,
    `kind: ${kind}`,
    ...metadata(rng, service, repo),
    'spec:',
    ...replicas,
    ...(kind === 'StatefulSet' ? [`  serviceName: ${service}`] : []),
    '  selector:',
    '    matchLabels:',
    `      app.kubernetes.io/name: ${service}`,
    '  template:',
    '    metadata:',
    '      labels:',
    `        app.kubernetes.io/name: ${service}`,
    '    spec:',
    ...podSpec(rng, '      ', service, repo, planted),
  ];
}

function serviceManifest(rng: Rng, service: string, repo: string): string[] {
  return [
    'apiVersion: v1',
    'kind: Service',
    ...metadata(rng, service, repo),
    'spec:',
    '  selector:',
    `    app.kubernetes.io/name: ${service}`,
    '  ports:',
    `    - port: 80`,
    `      targetPort: http`,
  ];
}

function configMap(rng: Rng, service: string, repo: string): string[] {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', ...metadata(rng, `${repo}-config`, repo), 'data:'];
  for (const [k, v] of benign(rng, rng.int(3, 10))) lines.push(`  ${k}: ${yamlQuote(v)}`);
  lines.push('  flags: |', `    search=${rng.chance(0.5)}`, `    beta-${service}=true`);
  return lines;
}

/** A `kind: Secret`; with `secret` it holds a real value, otherwise only placeholders. */
export function secretManifest(rng: Rng, repo: string, secret: FakeSecret | undefined): string[] {
  const lines = [
    'apiVersion: v1',
    'kind: Secret',
    ...metadata(rng, `${repo}-credentials`, repo),
    'type: Opaque',
  ];
  if (!secret) return [...lines, 'stringData:', '  password: ""', '  api-key: "${API_KEY}"'];
  const form = rng.int(0, 2);
  if (form === 0)
    return [
      ...lines,
      'data:',
      `  ${secret.name.toLowerCase().replace(/_/g, '-')}: ${Buffer.from(secret.value).toString('base64')}`,
      `  username: ${Buffer.from('app').toString('base64')}`,
    ];
  if (form === 1) return [...lines, 'stringData:', `  ${secret.name}: ${yamlQuote(secret.value)}`];
  return [
    ...lines.slice(0, -1),
    'type: kubernetes.io/tls',
    'stringData:',
    '  tls.key: |',
    ...privateKeyPem(rng)
      .split('\n')
      .map((l) => `    ${l}`),
    '  tls.crt: ""',
  ];
}

function ingress(rng: Rng, service: string, repo: string): string[] {
  return [
    'apiVersion: networking.k8s.io/v1',
    'kind: Ingress',
    ...metadata(rng, service, repo),
    'spec:',
    '  rules:',
    `    - host: ${service}.${repo}.example.com`,
    '      http:',
    '        paths:',
    '          - path: /',
    '            pathType: Prefix',
    '            backend:',
    `              service: { name: ${service}, port: { number: 80 } }`,
  ];
}

/** One manifest file: a workload, optionally with its Service, ConfigMap and more (multi-doc). */
export function manifest(rng: Rng, options: BuildOptions): Built {
  const docs: string[][] = [];
  const planted: string[] = [];
  const services =
    options.scale === 1 ? [options.service] : rng.sample(SERVICES, Math.min(SERVICES.length, options.scale));
  const plantIndex = options.plant ? rng.int(0, services.length - 1) : -1;
  const plantInSecret = options.plant && rng.chance(0.4);
  services.forEach((service, index) => {
    let secret: FakeSecret | undefined;
    if (index === plantIndex && !plantInSecret) {
      secret = providerSecret(rng);
      planted.push(secret.provider);
    }
    docs.push(workload(rng, service, options.repo, secret));
    if (options.scale > 1 || rng.chance(0.5)) docs.push(serviceManifest(rng, service, options.repo));
    if (options.scale > 1 && rng.chance(0.4)) docs.push(ingress(rng, service, options.repo));
  });
  if (options.scale > 1 || rng.chance(0.3)) docs.push(configMap(rng, options.service, options.repo));
  if (plantInSecret) {
    const secret = rng.chance(0.7)
      ? providerSecret(rng)
      : { provider: 'named-random', name: 'password', value: randomPassword(rng) };
    docs.push(secretManifest(rng, options.repo, secret));
    planted.push(secret.provider);
  }
  const head = rng.chance(0.5) ? '---\n' : '';
  return { text: head + docs.map((doc) => doc.join('\n')).join('\n---\n') + '\n', planted };
}

// ---------------------------------------------------------------- dotenv

const PLACEHOLDERS = ['', 'changeme', 'your-api-key-here', '<secret>', 'xxx', 'REPLACE_ME', 'example'];

/** `.env.example`: placeholders, or (planted) one real-looking value somebody pasted. */
export function dotenvExample(rng: Rng, options: BuildOptions): Built {
  const lines = ['# Copy to .env and fill in the values.', ''];
  for (const [k, v] of benign(rng, rng.int(4, 10 + 4 * options.scale)))
    lines.push(`${k}=${/\s/.test(v) ? yamlQuote(v) : v}`);
  lines.push('');
  for (const name of rng.sample(REFERENCED_SECRET_NAMES, rng.int(1, 4)))
    lines.push(`${name}=${rng.pick(PLACEHOLDERS)}`);
  const planted: string[] = [];
  if (options.plant) {
    const secret = providerSecret(rng);
    lines.push(`${secret.name}=${secret.value}`);
    planted.push(secret.provider);
  }
  return { text: lines.join('\n') + '\n', planted };
}

/** `.env`: local configuration; (planted) secrets, sometimes quoted or exported. */
export function dotenvLocal(rng: Rng, options: BuildOptions): Built {
  const lines: string[] = [];
  const exported = rng.chance(0.15) ? 'export ' : '';
  for (let block = 0; block < options.scale; block++) {
    if (block > 0)
      lines.push('', `# ${rng.pick(['database', 'cache', 'mail', 'observability', 'feature flags'])}`);
    for (const [k, v] of benign(rng, rng.int(4, 12)))
      lines.push(`${exported}${k}=${/\s/.test(v) ? yamlQuote(v) : v}`);
  }
  const planted: string[] = [];
  if (options.plant) {
    for (let i = rng.int(1, 3); i > 0; i--) {
      const secret = anySecret(rng);
      lines.push(`${exported}${secret.name}=${rng.chance(0.3) ? yamlQuote(secret.value) : secret.value}`);
      planted.push(secret.provider);
    }
  }
  return { text: lines.join('\n') + '\n', planted };
}

// ---------------------------------------------------------------- other YAML/JSON (not targets)

export function workflow(rng: Rng, options: BuildOptions): Built {
  const lines = [
    'name: ci',
    'on:',
    '  push:',
    '    branches: [main]',
    '  pull_request:',
    'jobs:',
    '  test:',
    '    runs-on: ubuntu-latest',
    '    env:',
    '      NODE_ENV: test',
    '      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}',
    '      DATABASE_URL: postgres://localhost:5432/test',
    '    steps:',
    '      - uses: actions/checkout@v4',
    '      - uses: actions/setup-node@v4',
    '        with:',
    `          node-version: ${rng.pick([20, 22, 24])}`,
  ];
  for (let i = 0; i < 2 + options.scale * 2; i++)
    lines.push(`      - run: npm run ${rng.pick(['lint', 'test', 'build', 'typecheck', 'e2e'])}`);
  const planted: string[] = [];
  if (options.plant) {
    const secret = providerSecret(rng);
    lines.push(
      '      - name: notify',
      '        env:',
      `          ${secret.name}: ${secret.value}`,
      '        run: ./scripts/notify.sh',
    );
    planted.push(secret.provider);
  }
  return { text: lines.join('\n') + '\n', planted };
}

export function helmValues(rng: Rng, options: BuildOptions): Built {
  const lines = [
    'replicaCount: ' + rng.int(1, 5),
    'image:',
    `  repository: ghcr.io/example/${options.repo}`,
    '  tag: ""',
    'env:',
  ];
  for (let i = 0; i < options.scale; i++)
    for (const [k, v] of benign(rng, rng.int(4, 10))) lines.push(`  ${k}_${i}: ${yamlQuote(v)}`);
  lines.push(
    'resources:',
    '  limits:',
    '    memory: 512Mi',
    'postgresql:',
    '  auth:',
    '    existingSecret: app-db',
    '    password: ""',
  );
  const planted: string[] = [];
  if (options.plant) {
    const secret = providerSecret(rng);
    lines.push('externalApi:', `  key: ${yamlQuote(secret.value)}`);
    planted.push(secret.provider);
  }
  return { text: lines.join('\n') + '\n', planted };
}

export function appConfig(rng: Rng, options: BuildOptions): Built {
  const lines = [
    'server:',
    `  port: ${rng.pick([8080, 3000])}`,
    '  shutdownTimeout: 15s',
    'database:',
    '  host: postgres',
    '  passwordFile: /run/secrets/db_password',
    'features:',
  ];
  for (let i = 0; i < 3 * options.scale; i++) lines.push(`  flag${i}: ${rng.chance(0.5)}`);
  return { text: lines.join('\n') + '\n', planted: [] };
}

export function packageJson(rng: Rng, options: BuildOptions): Built {
  const pkg = {
    name: `@example/${options.repo}-${options.service}`,
    version: `${rng.int(0, 3)}.${rng.int(0, 20)}.${rng.int(0, 9)}`,
    private: true,
    scripts: { build: 'tsc -p .', test: 'vitest run', start: 'node dist/server.js' },
    dependencies: Object.fromEntries(
      rng
        .sample(['fastify', 'pino', 'zod', 'pg', 'ioredis', 'undici', 'yaml', 'dotenv'], 4)
        .map((d) => [d, `^${rng.int(1, 9)}.${rng.int(0, 9)}.0`]),
    ),
  };
  return { text: JSON.stringify(pkg, null, 2) + '\n', planted: [] };
}
