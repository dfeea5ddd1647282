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
  InvalidManifest: { status: 400, connect: 38 },
  InvalidYaml: { status: 400, connect: 121 },
  /** A documented size cap (environments per file, installations, mounts, YAML bytes); see README "Limits". */
  LimitExceeded: { status: 400, connect: 121 },
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
