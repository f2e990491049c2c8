# syntax=docker/dockerfile:1
# check=skip=all
FROM alpine
# comments are dropped
RUN apk add --no-cache \
    # this comment is removed
    curl \

    git \
    make
    RUN echo "indented # not a comment" \
  && echo done
RUN echo trailing \   
    spaces
