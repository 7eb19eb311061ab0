/** Media types of the OCI image spec and Docker's manifest v2 (image-spec media-types.md, containerd mediatypes.go). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** The Accept header of a manifest GET (provisioning.md 3.1 step 3). */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

export const isIndexType = (t: string | undefined): boolean => t === OCI_INDEX || t === DOCKER_LIST;
export const isManifestType = (t: string | undefined): boolean => t === OCI_MANIFEST || t === DOCKER_MANIFEST;

/** How a layer blob is compressed, from its media type; undefined = not a layer type we can apply. */
export function layerCompression(mediaType: string): 'gzip' | 'none' | 'zstd' | undefined {
  // Docker's rootfs types (including foreign.diff.tar[.gzip]) and OCI's layer / nondistributable types.
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip$/.test(mediaType)) return 'gzip';
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar$/.test(mediaType)) return 'none';
  const m = /^application\/vnd\.oci\.image\.layer\.(?:nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.exec(mediaType);
  if (!m) return undefined;
  return m[1] === '+gzip' ? 'gzip' : m[1] === '+zstd' ? 'zstd' : 'none';
}
