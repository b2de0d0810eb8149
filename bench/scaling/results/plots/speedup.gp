set terminal pngcairo size 960,600 noenhanced font "sans,11"
set output "speedup.png"
set grid
set key top left box opaque
set title "Strong scaling of bfcr fit, n = 400000 (median of repeats, bars: min-max)"
set xlabel "cores used = ranks x threads (this machine: 2 cores)"
set ylabel "speedup against the smallest run"
set logscale xy 2
set xrange [0.8:5.2]
set yrange [*:5.2]
set arrow from 2, graph 0 to 2, graph 1 nohead dt 3 lc "gray40"
set label "oversubscribed ->" at 2.1, graph 0.92 tc "gray40"
plot x with lines dt 2 lc "black" title "ideal", \
     "speedup.dat" index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 title "1 thread per rank", \
     "speedup.dat" using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 3 lc "red" title "oversubscribed (ranks x threads > cores)"
