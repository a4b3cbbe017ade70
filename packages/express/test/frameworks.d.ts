declare module 'express4' {
  import express = require('express');
  export = express;
}

declare module 'express5' {
  import express = require('express');
  export = express;
}
