# Every instruction, in both forms where it has two.
FROM --platform=linux/amd64 debian:12 AS Base
FROM base AS Main
run apt-get update && apt-get install -y gcc
RUN ["/bin/sh", "-c", "echo exec form"]
RUN --network=none --mount=type=cache,target=/var/cache/apt,id=apt,sharing=locked,uid=1000,gid=1000,mode=0755 make
RUN --mount=type=bind,from=base,source=/src,target=/src,ro --mount=type=tmpfs,target=/tmp true
RUN [ -f /etc/os-release ] && cat /etc/os-release
CMD ["/app", "--serve"]
CMD /app --serve
ENTRYPOINT ["/entry"]
ENTRYPOINT exec /entry
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
LABEL version="1.0" "com.example.vendor"="ACME Inc" multi=a\ b
LABEL description This text illustrates the legacy form
MAINTAINER Jane Doe <jane@example.com>
EXPOSE 80/tcp 443 53/udp
ENV A=1 B="two words" C=three\ words
ENV LEGACY value with spaces
ADD --chown=1000:1000 --chmod=0644 --checksum=sha256:abc https://example.com/x.tar.gz /opt/
ADD ["file with spaces.txt", "/dest dir/"]
COPY --from=base --chown=app:app --chmod=755 --link /out/bin /usr/local/bin/
COPY ["a b", "c", "/dst/"]
COPY src/*.c ./
VOLUME ["/data", "/logs"]
VOLUME /var/lib/a /var/lib/b
USER app:app
WORKDIR /srv/$APP
ARG VERSION
ARG A=1 B="x y"
ONBUILD RUN echo triggered
ONBUILD COPY . /app
STOPSIGNAL SIGTERM
HEALTHCHECK NONE
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost/ || exit 1
HEALTHCHECK CMD ["/bin/check"]
