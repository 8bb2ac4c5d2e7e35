import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Machine clients (client credentials) and the client assertions already used (replay check). */
export class Clients1733100000000 implements MigrationInterface {
  name = 'Clients1733100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'clients',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'secret_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'public_key', type: 'text', isNullable: true },
          { name: 'scopes', type: 'text' },
          { name: 'created_at', type: 'bigint' },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'client_assertions',
        columns: [
          { name: 'client_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'jti', type: 'varchar', length: '128', isPrimary: true },
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createIndex('client_assertions', new TableIndex({ name: 'IDX_client_assertions_expires', columnNames: ['expires_at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('client_assertions');
    await queryRunner.dropTable('clients');
  }
}
