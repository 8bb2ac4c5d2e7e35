import { ValueTransformer } from 'typeorm';

/** PostgreSQL returns BIGINT as a string; the application works with millisecond numbers. */
export const bigintMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
