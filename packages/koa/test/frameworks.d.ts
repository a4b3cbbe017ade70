declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}

declare module 'koa3' {
  import Koa = require('koa');
  export = Koa;
}
