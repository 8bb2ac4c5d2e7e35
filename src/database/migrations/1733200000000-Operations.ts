import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/** Operating it: the audit trail (and its webhook outbox), disabled accounts, last sign-in, known devices. */
export class Operations1733200000000 implements MigrationInterface {
  name = 'Operations1733200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'id', type: 'varchar', length: '36' },
          { name: 'type', type: 'varchar', length: '48' },
          { name: 'at', type: 'bigint' },
          { name: 'actor_kind', type: 'varchar', length: '8' },
          { name: 'actor_id', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '200', isNullable: true },
          { name: 'route_group', type: 'varchar', length: '64', isNullable: true },
          { name: 'details', type: 'text' },
          { name: 'next_delivery_at', type: 'bigint', isNullable: true },
          { name: 'delivery_attempts', type: 'integer', default: 0 },
          { name: 'delivered_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'IDX_audit_events_id', columnNames: ['id'], isUnique: true }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'IDX_audit_events_at', columnNames: ['at'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'IDX_audit_events_user', columnNames: ['user_id', 'seq'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'IDX_audit_events_type', columnNames: ['type', 'seq'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'IDX_audit_events_delivery', columnNames: ['next_delivery_at'] }));

    await queryRunner.addColumns('users', [
      new TableColumn({ name: 'disabled_at', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'disabled_reason', type: 'varchar', length: '200', isNullable: true }),
      new TableColumn({ name: 'disabled_until', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'last_login_at', type: 'bigint', isNullable: true }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'known_devices',
        columns: [
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'fingerprint', type: 'varchar', length: '64', isPrimary: true },
          { name: 'first_seen_at', type: 'bigint' },
          { name: 'last_seen_at', type: 'bigint' },
        ],
        foreignKeys: [{ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('known_devices');
    for (const column of ['last_login_at', 'disabled_until', 'disabled_reason', 'disabled_at']) await queryRunner.dropColumn('users', column);
    await queryRunner.dropTable('audit_events');
  }
}
