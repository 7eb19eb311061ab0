/** The registry adapter: references, platform matching, auth and the distribution API client. */
export { parseReference, formatReference, apiHost, manifestSelector, DOCKER_HUB, type ImageReference } from './reference.ts';
export { RegistryError, isDigestMismatch, isNotFound, isPlatformMismatch, isUnauthorized, isRetryable, type RegistryErrorKind } from './errors.ts';
export { hostPlatform, isCompatibleOsVersion, selectPlatform, type HostPlatform, type Platform } from './platform.ts';
export { loadDockerConfig, parseChallenge, type CredentialStore, type BasicCredentials } from './auth.ts';
export { RegistryClient, sha256, type Descriptor, type ImageConfig, type LayerRef, type ResolvedImage, type BlobStream, type RegistryClientOptions } from './client.ts';
export { isLoopbackHost, registryScheme, type TransportOptions } from './transport.ts';
export * as media from './media.ts';
