FROM node:20 AS base
ONBUILD ARG NODE_ENV=production
ONBUILD COPY package*.json ./
onbuild run npm ci
ONBUILD HEALTHCHECK --interval=10s CMD node check.js
HEALTHCHECK --retries=5 CMD ["node", "health.js"]
FROM base
HEALTHCHECK NONE
