import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Single-use tokens sent by mail (password reset, email verification), stored as hashes. */
export class OneTimeTokens1732700000000 implements MigrationInterface {
  name = 'OneTimeTokens1732700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'one_time_tokens',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'purpose', type: 'varchar', length: '32' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'used_at', type: 'bigint', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
    await queryRunner.createIndex('one_time_tokens', new TableIndex({ name: 'IDX_one_time_tokens_hash', columnNames: ['token_hash'], isUnique: true }));
    await queryRunner.createIndex('one_time_tokens', new TableIndex({ name: 'IDX_one_time_tokens_user', columnNames: ['user_id'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('one_time_tokens');
  }
}
