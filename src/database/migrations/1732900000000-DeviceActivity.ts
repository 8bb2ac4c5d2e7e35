import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * The device list: refresh families remember where their login came from (address and
 * User-Agent, as sessions already do in their data), and both families and database-stored
 * sessions get a last-use time, written at most about once a minute. All nullable: families and
 * sessions from before have none (the list then shows the creation time as the last use).
 */
export class DeviceActivity1732900000000 implements MigrationInterface {
  name = 'DeviceActivity1732900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('refresh_families', [
      new TableColumn({ name: 'ip', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'user_agent', type: 'varchar', length: '200', isNullable: true }),
      new TableColumn({ name: 'last_used_at', type: 'bigint', isNullable: true }),
    ]);
    await queryRunner.addColumn('sessions', new TableColumn({ name: 'last_used_at', type: 'bigint', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('sessions', 'last_used_at');
    await queryRunner.dropColumns('refresh_families', ['last_used_at', 'user_agent', 'ip']);
  }
}
