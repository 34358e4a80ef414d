// The embedded default that `envless demo` runs on: a small service with the mistakes envless
// exists to catch. Every credential here is fake, and assembled at run time so that secret
// scanners do not flag this source file.
const fakeToken = ['ghp', 'Zq8dY2mK4tW7xN1bV5cR9sL3pJ6hF0gD2aE4'].join('_');

export const SAMPLES: readonly { filename: string; text: string }[] = [
  {
    filename: 'demo/Dockerfile',
    text: `FROM node:24-slim AS build
ARG NPM_TOKEN
WORKDIR /app
COPY package*.json .npmrc ./
RUN npm ci
FROM node:24-slim
ENV NODE_ENV=production \\
    DB_PASSWORD=hunter2 \\
    TOKEN_URL=https://auth.example.com/token
LABEL org.opencontainers.image.source="https://ci:${fakeToken}@github.com/acme/shop"
COPY --from=build /app /app
CMD ["node", "/app/server.js"]
`,
  },
  {
    filename: 'demo/compose.yaml',
    text: `x-db-env: &db-env
  POSTGRES_USER: shop
  POSTGRES_PASSWORD: example

services:
  db:
    image: postgres:17
    environment:
      <<: *db-env
  api:
    build:
      context: .
      args:
        NPM_TOKEN: \${NPM_TOKEN}
    environment:
      - DATABASE_URL=postgres://shop:example@db/shop
      - STRIPE_API_KEY
      - SESSION_TTL=3600
      - SMTP_PASSWORD_FILE=/run/secrets/smtp_password
`,
  },
  {
    filename: 'demo/deployment.yaml',
    text: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-api
spec:
  selector:
    matchLabels: { app: shop-api }
  template:
    metadata:
      labels: { app: shop-api }
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/shop-api:1.4.2
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: { name: shop-db, key: password }
            - name: LOG_LEVEL
              value: info
          envFrom:
            - secretRef: { name: shop-stripe }
`,
  },
  {
    filename: 'demo/.env.example',
    text: `DB_HOST=localhost
DB_PASSWORD=
STRIPE_API_KEY=${['sk', 'live', '51HqLyjWDarjtT1zdp7dcXYZ0q9Rm2Lw8'].join('_')}
`,
  },
];
