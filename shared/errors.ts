// Every error the API returns has a stable code (a name), the HTTP status, the numeric code the
// Posit Connect API uses for the same condition (so its clients understand us), a message a
// person can act on, and, where one field is at fault, that field's path ("python.installations[0].version").

export const ERRORS = {
  Internal: { status: 500, connect: 1 },
  Unavailable: { status: 503, connect: 1 },
  EndpointNotFound: { status: 404, connect: 2 },
  InvalidId: { status: 400, connect: 3 },
  NotFound: { status: 404, connect: 4 },
  Forbidden: { status: 403, connect: 22 },
  Unauthenticated: { status: 401, connect: 24 },
  ImmutableField: { status: 400, connect: 53 },
  UnparsableBody: { status: 400, connect: 87 },
  InvalidRequest: { status: 400, connect: 121 },
  BodyTooLarge: { status: 400, connect: 87 },
  InvalidEnvironmentTitle: { status: 400, connect: 168 },
  InvalidEnvironmentDescription: { status: 400, connect: 169 },
  InvalidEnvironmentClusterName: { status: 400, connect: 170 },
  InvalidEnvironmentName: { status: 400, connect: 171 },
  InvalidEnvironmentMatching: { status: 400, connect: 172 },
  InvalidInstallationPath: { status: 400, connect: 173 },
  InvalidInstallationVersion: { status: 400, connect: 174 },
  DuplicateEnvironmentName: { status: 409, connect: 175 },
  InvalidEnvironmentSupervisor: { status: 400, connect: 177 },
  InvalidEnvironmentVolume: { status: 400, connect: 254 },
  EnvironmentIsConfigManaged: { status: 409, connect: 265 },
  /** An Authorization header with a key that is not (or no longer) one of ours: Connect's code 30. */
  InvalidApiKey: { status: 401, connect: 30 },
  // Content (reference/connect.md §2 has Connect's numbers; 121 where Connect's own is unknown).
  InvalidContentName: { status: 400, connect: 121 },
  InvalidContentTitle: { status: 400, connect: 121 },
  DuplicateContentName: { status: 409, connect: 121 },
  InvalidMinProcesses: { status: 400, connect: 191 },
  InvalidMaxProcesses: { status: 400, connect: 192 },
  MinProcessesAboveMax: { status: 400, connect: 114 },
  InvalidLoadFactor: { status: 400, connect: 150 },
  InvalidTimeout: { status: 400, connect: 151 },
  InvalidDefaultImageName: { status: 400, connect: 193 },
  /** A bundle archive that cannot be deployed: the message names the member or manifest field. */
  InvalidBundle: { status: 400, connect: 121 },
  BundleTooLarge: { status: 413, connect: 121 },
  /** The request conflicts with the current state (e.g. deleting the active bundle). */
  Conflict: { status: 409, connect: 121 },
  InvalidEnvironmentPermission: { status: 400, connect: 246 },
  DuplicateEnvironmentPermission: { status: 409, connect: 247 },
  InvalidManifest: { status: 400, connect: 38 },
  InvalidYaml: { status: 400, connect: 121 },
  /** A documented size cap (environments per file, installations, mounts, YAML bytes); see README "Limits". */
  LimitExceeded: { status: 400, connect: 121 },
  // Execution settings against the quotas (shared/quota.ts); Connect's numbers for the same checks.
  InvalidCpuRequest: { status: 400, connect: 186 },
  CpuRequestOutOfBounds: { status: 400, connect: 187 },
  CpuRequestAboveLimit: { status: 400, connect: 190 },
  InvalidCpuLimit: { status: 400, connect: 188 },
  CpuLimitOutOfBounds: { status: 400, connect: 189 },
  InvalidMemoryRequest: { status: 400, connect: 181 },
  MemoryRequestOutOfBounds: { status: 400, connect: 182 },
  MemoryRequestAboveLimit: { status: 400, connect: 185 },
  InvalidMemoryLimit: { status: 400, connect: 183 },
  MemoryLimitOutOfBounds: { status: 400, connect: 184 },
  InvalidServiceAccountName: { status: 400, connect: 176 },
  ServiceAccountNotAllowed: { status: 400, connect: 178 },
  /** The quota settings themselves: a bad value, or bounds that contradict each other. */
  InvalidQuota: { status: 400, connect: 121 },
  /** quotas.update named the version it previewed, and someone saved another since. */
  QuotasChanged: { status: 409, connect: 121 },
  /** Cancelling a job that has already ended (Connect's 163). */
  InactiveJob: { status: 409, connect: 163 },
  /** Settings → Package sources: a URL or repository that build jobs could not use. */
  InvalidPackageSources: { status: 400, connect: 121 },
} as const satisfies Record<string, { status: number; connect: number }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field?: string;
  /** Further problems found in the same input, so a form can mark every bad field at once. */
  details?: { code: ErrorCode; message: string; field?: string }[];
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: ErrorBody['details'],
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.details && this.details.length > 1) body.details = this.details;
    return body;
  }

  static fromBody(body: ErrorBody): AppError {
    return new AppError(body.code in ERRORS ? body.code : 'Internal', body.message, body.field, body.details);
  }
}
