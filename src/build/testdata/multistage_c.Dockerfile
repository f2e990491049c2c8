# A realistic multi-stage C build.
ARG DEBIAN_VERSION=12
ARG BUSYBOX_TAG
FROM debian:${DEBIAN_VERSION}-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
COPY <<EOF hello.c
#include <stdio.h>
int main(void) { puts("hello from burrow"); return 0; }
EOF
RUN gcc -static -O2 -o /hello hello.c

FROM build AS test
RUN /hello | grep -q burrow

FROM busybox:${BUSYBOX_TAG:-latest}
COPY --from=build /hello /usr/local/bin/hello
COPY --from=0 /etc/os-release /etc/build-os-release
RUN adduser -D app
USER app
ENTRYPOINT ["/usr/local/bin/hello"]
