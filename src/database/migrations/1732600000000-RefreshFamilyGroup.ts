import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Refresh families remember the route group they were started in, so that a token pair issued
 * for one group neither refreshes nor authenticates in another. Existing families keep NULL
 * (not bound), and their next access tokens are bound to the group that refreshes them.
 */
export class RefreshFamilyGroup1732600000000 implements MigrationInterface {
  name = 'RefreshFamilyGroup1732600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('refresh_families', new TableColumn({ name: 'route_group', type: 'varchar', length: '32', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('refresh_families', 'route_group');
  }
}
