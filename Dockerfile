# syntax=docker/dockerfile:1
# riskwatch's image: one static binary on a distroless base, run as a
# non-root user, no shell. Build from the repository's root:
#   docker build -t riskwatch:$(git describe --always) --build-arg REVISION=$(git rev-parse HEAD) .
# The same image runs every subcommand: serve (the default), migrate,
# retention, user, quarantine, detect, brief.

# go.mod asks for Go 1.26.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (no cgo): the binary runs on a static base. .git is not in the
# build context, so VCS stamping is off; REVISION goes in the image's labels.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/riskwatch ./cmd/riskwatch

FROM gcr.io/distroless/static-debian12:nonroot
ARG REVISION=unknown
LABEL org.opencontainers.image.title="riskwatch" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/riskwatch /usr/local/bin/riskwatch
# uid 65532 (nonroot); its home is the working directory.
USER nonroot:nonroot
WORKDIR /home/nonroot
EXPOSE 8080
ENV RISKWATCH_HTTP=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/riskwatch"]
CMD ["serve", "-log.format", "json"]
