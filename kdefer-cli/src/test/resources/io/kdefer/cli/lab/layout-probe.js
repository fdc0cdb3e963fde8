// Appended to a copy of a lab report by the rendering test: after layout, one line per svg element in a
// pre element with the id kdefer-layout, read back from the dumped DOM.
// Format: svg <index> w=<px> h=<px> drawn=<n> texts=<n> outside=<n> bad=<n>
//   drawn   shapes (path, line, polyline, polygon, rect, circle) whose box is not empty
//   outside texts and shapes whose laid-out box leaves the svg's box (by more than one pixel)
//   bad     attributes that hold NaN or Infinity
(function () {
  var lines = [];
  var svgs = document.querySelectorAll('svg');
  for (var i = 0; i < svgs.length; i++) {
    var s = svgs[i];
    var r = s.getBoundingClientRect();
    var drawn = 0, texts = 0, outside = 0, bad = 0;
    var all = s.querySelectorAll('*');
    for (var j = 0; j < all.length; j++) {
      var e = all[j];
      for (var a = 0; a < e.attributes.length; a++) {
        var v = e.attributes[a].value;
        if (v.indexOf('NaN') >= 0 || v.indexOf('Infinity') >= 0) {
          bad++;
        }
      }
      var tag = e.tagName.toLowerCase();
      var shape = /^(path|line|polyline|polygon|rect|circle)$/.test(tag);
      if (!shape && tag !== 'text') {
        continue;
      }
      var b = e.getBoundingClientRect();   // page coordinates, transforms applied
      if (tag === 'text') {
        texts++;
      } else if (b.width > 0 || b.height > 0) {
        drawn++;
      }
      if (b.left < r.left - 1 || b.top < r.top - 1 || b.right > r.right + 1 || b.bottom > r.bottom + 1) {
        outside++;
      }
    }
    lines.push('svg ' + i + ' w=' + Math.round(r.width) + ' h=' + Math.round(r.height) + ' drawn=' + drawn
        + ' texts=' + texts + ' outside=' + outside + ' bad=' + bad);
  }
  var pre = document.createElement('pre');
  pre.id = 'kdefer-layout';
  pre.textContent = lines.join('\n');
  document.body.appendChild(pre);
})();
