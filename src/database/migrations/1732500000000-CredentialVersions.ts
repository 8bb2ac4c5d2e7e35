import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/**
 * From clocks to versions. Credentials used to be compared with a per-user cut-off time, which
 * concurrent requests and skewed clocks could slip past. Now:
 * - users carry a credential version (and the version of their last logout-all);
 * - refresh families get a table of their own, where revocation is decided;
 * - every revocation is a row of one log (`revocations`), which replaces the jti denylist.
 * Existing state is carried over: users who had a cut-off start at version 1, so credentials
 * from before the upgrade (version 0) of those users stay refused.
 */
export class CredentialVersions1732500000000 implements MigrationInterface {
  name = 'CredentialVersions1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const now = Date.now();
    await queryRunner.addColumns('users', [
      new TableColumn({ name: 'credential_version', type: 'integer', default: 0 }),
      new TableColumn({ name: 'logout_version', type: 'integer', default: 0 }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'refresh_families',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'user_version', type: 'integer' },
          { name: 'created_at', type: 'bigint' },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
    await queryRunner.createIndex('refresh_families', new TableIndex({ name: 'IDX_refresh_families_user', columnNames: ['user_id'] }));

    await queryRunner.createTable(
      new Table({
        name: 'revocations',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'subject', type: 'varchar', length: '64' },
          { name: 'version', type: 'integer', isNullable: true },
          { name: 'expires_at', type: 'bigint', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createIndex('revocations', new TableIndex({ name: 'IDX_revocations_expires', columnNames: ['expires_at'] }));

    // Families from the existing tokens: revoked if any of their rows was; started after the
    // user's cut-off (version 1) or before it (version 0, hence dead once the user is at 1).
    await queryRunner.query(
      `INSERT INTO refresh_families (id, user_id, user_version, created_at, revoked_at)
       SELECT t.family_id, t.user_id,
              CASE WHEN MIN(t.created_at) > MAX(u.tokens_valid_after) THEN 1 ELSE 0 END,
              MIN(t.created_at), MIN(t.revoked_at)
       FROM refresh_tokens t JOIN users u ON u.id = t.user_id
       GROUP BY t.family_id, t.user_id`,
    );
    await queryRunner.query(`UPDATE users SET credential_version = 1, logout_version = 1 WHERE tokens_valid_after > 0`);
    // Access tokens revoked so far, wherever they were listed, move to the log.
    await queryRunner.query(
      `INSERT INTO revocations (kind, subject, version, expires_at, created_at)
       SELECT 'token', jti, NULL, expires_at, ${now} FROM revoked_access_tokens WHERE expires_at > ${now}`,
    );
    await queryRunner.query(
      `INSERT INTO revocations (kind, subject, version, expires_at, created_at)
       SELECT 'token', access_jti, NULL, access_expires_at, ${now} FROM refresh_tokens
       WHERE revoked_at IS NOT NULL AND access_jti IS NOT NULL AND access_expires_at > ${now}`,
    );

    await queryRunner.dropTable('revoked_access_tokens');
    await queryRunner.dropColumns('refresh_tokens', ['revoked_at', 'access_jti', 'access_expires_at']);
    await queryRunner.dropColumn('users', 'tokens_valid_after');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('users', new TableColumn({ name: 'tokens_valid_after', type: 'bigint', default: 0 }));
    await queryRunner.addColumns('refresh_tokens', [
      new TableColumn({ name: 'revoked_at', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'access_jti', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'access_expires_at', type: 'bigint', isNullable: true }),
    ]);
    await queryRunner.query(`UPDATE refresh_tokens SET revoked_at = (SELECT f.revoked_at FROM refresh_families f WHERE f.id = refresh_tokens.family_id)`);
    await queryRunner.createTable(
      new Table({
        name: 'revoked_access_tokens',
        columns: [
          { name: 'jti', type: 'varchar', length: '64', isPrimary: true },
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.dropTable('revocations');
    await queryRunner.dropTable('refresh_families');
    await queryRunner.dropColumn('users', 'logout_version');
    await queryRunner.dropColumn('users', 'credential_version');
  }
}
