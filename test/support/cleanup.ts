import { removeFreshDataDirs } from './environments';

// Registered on the root block before the suite's own hooks, so it runs after every
// describe block's afterAll has closed its apps: no folder is removed while still in use.
afterAll(() => removeFreshDataDirs());
