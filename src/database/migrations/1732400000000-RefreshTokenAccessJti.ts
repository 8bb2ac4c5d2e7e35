import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Remembers which access token was issued with each refresh token, to revoke it with its family. */
export class RefreshTokenAccessJti1732400000000 implements MigrationInterface {
  name = 'RefreshTokenAccessJti1732400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('refresh_tokens', [
      new TableColumn({ name: 'access_jti', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'access_expires_at', type: 'bigint', isNullable: true }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('refresh_tokens', 'access_expires_at');
    await queryRunner.dropColumn('refresh_tokens', 'access_jti');
  }
}
