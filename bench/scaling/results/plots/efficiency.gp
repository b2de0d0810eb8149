set terminal pngcairo size 960,600 noenhanced font "sans,11"
set output "efficiency.png"
set grid
set key top left box opaque
set title "Parallel efficiency (strong: speedup / cores ratio; weak: t_base / t)"
set xlabel "cores used = ranks x threads (this machine: 2 cores)"
set ylabel "efficiency (1 = ideal)"
set logscale x 2
set xrange [0.8:5.2]
set yrange [0:1.3]
set key top right
plot 1 with lines dt 2 lc "black" title "ideal", \
     "efficiency.dat" index 0 using 1:2 with linespoints lw 2 pt 7 title "strong, 1 thread per rank", \
     "efficiency.dat" index 1 using 1:2 with linespoints lw 2 pt 5 title "weak, 1 thread per rank", \
     "efficiency.dat" using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 3 lc "red" title "oversubscribed"
